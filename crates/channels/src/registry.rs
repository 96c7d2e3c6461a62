//! Every provider this build has. Adding one is its module and one line here:
//! the settings screens, the CLI's `inbox add`, the API and the webhook route
//! are all made from what each provider describes.

use crate::provider::Provider;

static PROVIDERS: [&'static dyn Provider; 9] = [
    &crate::simulator::Simulator,
    &crate::twilio::channel::Twilio,
    &crate::smpp::channel::Smpp,
    &crate::whatsapp::channel::WhatsApp,
    &crate::telegram::channel::Telegram,
    &crate::line::channel::Line,
    &crate::messenger::channel::Messenger,
    &crate::wechat::channel::Wechat,
    &crate::webchat::Webchat,
];

pub fn all() -> &'static [&'static dyn Provider] {
    &PROVIDERS
}

/// The provider with this key (`twilio`), if this build has it.
pub fn find(key: &str) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.key() == key)
}

/// The keys, for messages that list what is possible.
pub fn keys() -> Vec<&'static str> {
    PROVIDERS.iter().map(|p| p.key()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_url_safe_and_each_provider_carries_a_medium() {
        let mut seen = std::collections::HashSet::new();
        for p in all() {
            assert!(seen.insert(p.key()), "{} twice", p.key());
            assert!(p.key().chars().all(|c| c.is_ascii_lowercase()), "{}", p.key());
            assert!(!p.media().is_empty() && !p.label().is_empty());
            for m in p.media() {
                assert!(p.capabilities(*m).max_chars > 0);
            }
            let mut names = std::collections::HashSet::new();
            for f in p.setup() {
                assert!(names.insert(f.name), "{}: field {} twice", p.key(), f.name);
                assert!(!f.label.is_empty() && !f.help.is_empty(), "{}: {} needs words", p.key(), f.name);
            }
        }
        assert!(find("twilio").is_some() && find("fax").is_none());
    }
}
