//! The open-file limit against `max_connections`: every connection is a file,
//! and so are the database's connections, media being written, outgoing
//! requests and the logs. With the usual soft limit of 1,024 and nothing said,
//! a slow-connection flood used them all and the server could not even answer
//! `/healthz`. At start the soft limit is raised as far as needed (the hard
//! limit allows that without privileges); if even the hard limit is too low,
//! the cap on connections is lowered to fit, with a warning that says how to
//! raise it, rather than failing later under load.

/// Files kept for everything but client connections: the database pool, media
/// files, provider and webhook requests, SMPP binds, logs, the runtime's own.
pub const FILES_BESIDES_CONNECTIONS: u64 = 200;

/// What to do about the limit: a new soft limit to set, and the connection cap to use.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub raise_soft_to: Option<u64>,
    pub max_connections: usize,
}

/// `soft` and `hard` are the current limits (None: unlimited).
pub fn plan(max_connections: usize, soft: Option<u64>, hard: Option<u64>) -> Plan {
    let needed = (max_connections as u64).saturating_add(FILES_BESIDES_CONNECTIONS);
    let Some(soft) = soft.filter(|s| *s < needed) else {
        return Plan { raise_soft_to: None, max_connections };
    };
    let reachable = hard.map_or(needed, |h| h.min(needed));
    let raise_soft_to = (reachable > soft).then_some(reachable);
    let files = raise_soft_to.unwrap_or(soft);
    let fits = if files >= needed {
        max_connections
    } else {
        // A quarter at least: a tiny limit still serves a few clients.
        let spare = files.saturating_sub(FILES_BESIDES_CONNECTIONS).max(files / 4).max(2);
        usize::try_from(spare).unwrap_or(max_connections).min(max_connections)
    };
    Plan { raise_soft_to, max_connections: fits }
}

/// Raises the soft open-file limit for `max_connections` if it can; returns
/// the connection cap that fits the limit in the end.
#[cfg(unix)]
pub fn fit_connections(max_connections: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let p = plan(max_connections, now.current, now.maximum);
    if let Some(to) = p.raise_soft_to {
        match setrlimit(Resource::Nofile, Rlimit { current: Some(to), maximum: now.maximum }) {
            Ok(()) => tracing::info!(from = ?now.current, to, "raised the open-file limit for max_connections"),
            Err(e) => {
                tracing::warn!(error = %e, "could not raise the open-file limit");
                return plan(max_connections, now.current, now.current).max_connections;
            }
        }
    }
    if p.max_connections < max_connections {
        tracing::warn!(
            max_connections,
            serving = p.max_connections,
            open_file_limit = ?now.maximum,
            "max_connections is more than the open-file limit allows, so it was lowered; raise the limit \
             (`ulimit -n`, systemd's LimitNOFILE=) to at least max_connections + {FILES_BESIDES_CONNECTIONS}"
        );
    }
    p.max_connections
}

#[cfg(not(unix))]
pub fn fit_connections(max_connections: usize) -> usize {
    max_connections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_low_soft_limit_is_raised_within_the_hard_one() {
        let p = plan(800, Some(1024), Some(524_288));
        assert_eq!(p, Plan { raise_soft_to: None, max_connections: 800 }, "1,000 files fit in 1,024");
        let p = plan(2000, Some(1024), Some(524_288));
        assert_eq!(p, Plan { raise_soft_to: Some(2200), max_connections: 2000 });
        let p = plan(2000, Some(1024), None);
        assert_eq!(p, Plan { raise_soft_to: Some(2200), max_connections: 2000 }, "no hard limit");
        assert_eq!(plan(2000, None, None), Plan { raise_soft_to: None, max_connections: 2000 });
    }

    #[test]
    fn past_the_hard_limit_fewer_connections_are_served() {
        let p = plan(800, Some(256), Some(512));
        assert_eq!(p, Plan { raise_soft_to: Some(512), max_connections: 312 });
        let p = plan(800, Some(256), Some(256));
        assert_eq!(p, Plan { raise_soft_to: None, max_connections: 64 });
        assert_eq!(plan(800, Some(4), Some(4)).max_connections, 2);
    }
}
