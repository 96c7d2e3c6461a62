//! Health and metrics for operators and their monitoring.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::http::state::AppState;

/// 200 when the database answers, 503 otherwise.
pub(crate) async fn healthz(State(s): State<AppState>) -> Response {
    match s.services.database_answers().await {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ok" }))).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}

pub(crate) async fn metrics(State(s): State<AppState>) -> Response {
    let outbox = s.services.outbox_counts().await.unwrap_or_default();
    let links = s.services.link_states();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.services.metrics.render(&outbox, &links))
        .into_response()
}

/// Asks a running server's `/healthz` over plain HTTP/1.1 (what `healthcheck`
/// uses; TLS is the proxy's business). Ok only for a 200.
pub async fn probe(base: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("the health check speaks plain http:// to the server's listen address"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    let fut = async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream
            .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        anyhow::Ok(String::from_utf8_lossy(&buf).lines().next().unwrap_or("").to_owned())
    };
    let status = tokio::time::timeout(std::time::Duration::from_secs(5), fut)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within 5 seconds"))??;
    if status.split_whitespace().nth(1) == Some("200") { Ok(()) } else { anyhow::bail!("answered {status:?}") }
}
