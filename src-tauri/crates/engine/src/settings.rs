//! The settings a person can change, with their defaults and validation; stored as JSON values
//! in the store under the names of `SettingKey`.

use serde::{Deserialize, Serialize};
use switchboard_core::phone::Country;
use switchboard_store::SettingKey;

use crate::{Engine, EngineError, Result};

/// What an OS notification shows of an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum NotificationPrivacy {
    /// Sender and message text.
    Full,
    /// Only who wrote, not what.
    Sender,
    /// Only that a message arrived.
    Nothing,
}

/// Every user-facing setting with its current value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Settings {
    pub default_country: String,
    pub notification_privacy: NotificationPrivacy,
    pub do_not_disturb: bool,
    pub always_on_top: bool,
    pub start_minimized: bool,
    pub global_shortcut: String,
    pub carrier: String,
    /// Seconds between two polls of the carrier for replies and delivery reports (a desktop
    /// has no public webhook); offline, the polls back off up to a minute.
    pub poll_interval: u32,
}

/// The main window's place on screen, in physical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowGeometry {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

pub(crate) const DEFAULT_COUNTRY: &str = "US";
const DEFAULT_SHORTCUT: &str = "CmdOrCtrl+Shift+Space";
const DEFAULT_POLL_SECONDS: u32 = 5;
/// The shortest and longest poll intervals: Twilio's API is rate-limited per account, and a
/// reply that waits more than ten minutes is no longer a conversation.
const POLL_SECONDS: std::ops::RangeInclusive<u32> = 2..=600;

/// One change of a setting a person can make. The carrier is not among them: it changes by
/// connecting an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingChange {
    /// An ISO 3166 region code, for numbers typed without a country code.
    DefaultCountry(String),
    NotificationPrivacy(NotificationPrivacy),
    DoNotDisturb(bool),
    AlwaysOnTop(bool),
    StartMinimized(bool),
    GlobalShortcut(String),
    /// Seconds, from 2 to 600.
    PollInterval(u32),
}

impl SettingChange {
    /// The setting's name, as `Settings` has it.
    pub fn name(&self) -> &'static str {
        match self {
            SettingChange::DefaultCountry(_) => "default_country",
            SettingChange::NotificationPrivacy(_) => "notification_privacy",
            SettingChange::DoNotDisturb(_) => "do_not_disturb",
            SettingChange::AlwaysOnTop(_) => "always_on_top",
            SettingChange::StartMinimized(_) => "start_minimized",
            SettingChange::GlobalShortcut(_) => "global_shortcut",
            SettingChange::PollInterval(_) => "poll_interval",
        }
    }

    /// A change as a person types it (`switchboard-cli settings set NAME VALUE`): a name of
    /// [`SETTABLE`] and its value as text ("on"/"off", "30s", "gb", …).
    pub fn parse(name: &str, value: &str) -> Result<SettingChange> {
        let value = value.trim();
        let on_off = || parse_bool(value).ok_or_else(|| invalid(name, "must be on or off."));
        Ok(match name {
            "default_country" => SettingChange::DefaultCountry(value.to_owned()),
            "notification_privacy" => SettingChange::NotificationPrivacy(match value {
                "full" => NotificationPrivacy::Full,
                "sender" => NotificationPrivacy::Sender,
                "nothing" => NotificationPrivacy::Nothing,
                _ => return Err(invalid(name, "must be full, sender or nothing.")),
            }),
            "do_not_disturb" => SettingChange::DoNotDisturb(on_off()?),
            "always_on_top" => SettingChange::AlwaysOnTop(on_off()?),
            "start_minimized" => SettingChange::StartMinimized(on_off()?),
            "global_shortcut" => SettingChange::GlobalShortcut(value.to_owned()),
            "carrier" => {
                return Err(invalid(
                    name,
                    "changes by connecting an account: `account connect-twilio` in the CLI, or \
                     Settings → Carrier in the app.",
                ))
            }
            "poll_interval" => SettingChange::PollInterval(
                value
                    .trim_end_matches('s')
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| poll_interval_invalid())?,
            ),
            _ => {
                return Err(EngineError::Invalid {
                    what: "setting",
                    why: format!(
                        "{name:?} does not exist. Settings: {}.",
                        SETTABLE.join(", ")
                    ),
                })
            }
        })
    }
}

fn poll_interval_invalid() -> EngineError {
    invalid(
        "poll_interval",
        &format!(
            "must be a number of seconds from {} to {}.",
            POLL_SECONDS.start(),
            POLL_SECONDS.end()
        ),
    )
}

/// The names [`SettingChange::parse`] knows, in the order `settings` lists them.
pub const SETTABLE: [&str; 8] = [
    "default_country",
    "notification_privacy",
    "do_not_disturb",
    "always_on_top",
    "start_minimized",
    "global_shortcut",
    "carrier",
    "poll_interval",
];

impl Engine {
    pub fn settings(&self) -> Result<Settings> {
        let s = &self.store;
        Ok(Settings {
            default_country: self.default_country()?.code().to_owned(),
            notification_privacy: s
                .get_setting_as(SettingKey::NotificationPrivacy)?
                .unwrap_or(NotificationPrivacy::Full),
            do_not_disturb: s.get_setting_as(SettingKey::DoNotDisturb)?.unwrap_or(false),
            always_on_top: s.get_setting_as(SettingKey::AlwaysOnTop)?.unwrap_or(false),
            start_minimized: s
                .get_setting_as(SettingKey::StartMinimized)?
                .unwrap_or(false),
            global_shortcut: s
                .get_setting_as(SettingKey::GlobalShortcut)?
                .unwrap_or_else(|| DEFAULT_SHORTCUT.to_owned()),
            carrier: self.carrier_kind()?,
            poll_interval: s
                .get_setting_as(SettingKey::PollInterval)?
                .filter(|n| POLL_SECONDS.contains(n))
                .unwrap_or(DEFAULT_POLL_SECONDS),
        })
    }

    /// Saves one setting, validated, and answers them all.
    pub fn set_setting(&self, change: &SettingChange) -> Result<Settings> {
        let name = change.name();
        let (key, json) = match change {
            SettingChange::DefaultCountry(code) => (
                SettingKey::DefaultCountry,
                serde_json::json!(Country::parse(code.trim())?.code()),
            ),
            SettingChange::NotificationPrivacy(p) => {
                (SettingKey::NotificationPrivacy, serde_json::json!(p))
            }
            SettingChange::DoNotDisturb(on) => (SettingKey::DoNotDisturb, serde_json::json!(on)),
            SettingChange::AlwaysOnTop(on) => (SettingKey::AlwaysOnTop, serde_json::json!(on)),
            SettingChange::StartMinimized(on) => {
                (SettingKey::StartMinimized, serde_json::json!(on))
            }
            SettingChange::GlobalShortcut(shortcut) => {
                let shortcut = shortcut.trim();
                if shortcut.is_empty() || shortcut.len() > 64 {
                    return Err(invalid(
                        name,
                        "must be a shortcut such as CmdOrCtrl+Shift+Space.",
                    ));
                }
                (SettingKey::GlobalShortcut, serde_json::json!(shortcut))
            }
            SettingChange::PollInterval(seconds) => {
                if !POLL_SECONDS.contains(seconds) {
                    return Err(poll_interval_invalid());
                }
                (SettingKey::PollInterval, serde_json::json!(seconds))
            }
        };
        self.store.set_setting(key, &json)?;
        self.settings()
    }

    /// The runner's configuration with the person's poll interval.
    pub fn runner_config(&self) -> Result<crate::RunnerConfig> {
        Ok(crate::RunnerConfig {
            sync_interval: std::time::Duration::from_secs(self.settings()?.poll_interval.into()),
            ..crate::RunnerConfig::default()
        })
    }

    /// Where the main window was last (position and size), for the next start.
    pub fn window_geometry(&self) -> Result<Option<WindowGeometry>> {
        Ok(self.store.get_setting_as(SettingKey::WindowGeometry)?)
    }

    pub fn save_window_geometry(&self, geometry: WindowGeometry) -> Result<()> {
        if geometry.width < 100 || geometry.height < 100 {
            return Err(invalid(
                "window_geometry",
                "is smaller than any usable window.",
            ));
        }
        Ok(self
            .store
            .set_setting(SettingKey::WindowGeometry, &serde_json::json!(geometry))?)
    }

    /// The region used for numbers typed without a country code.
    pub fn default_country(&self) -> Result<Country> {
        let code: Option<String> = self.store.get_setting_as(SettingKey::DefaultCountry)?;
        Ok(Country::parse(code.as_deref().unwrap_or(DEFAULT_COUNTRY))?)
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

fn invalid(name: &str, why: &str) -> EngineError {
    EngineError::Invalid {
        what: "setting",
        why: format!("{name} {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::SettingChange;
    use crate::testutil::engine;

    #[test]
    fn defaults_then_changes() {
        let (_d, e) = engine();
        let s = e.settings().unwrap();
        assert_eq!(s.default_country, "US");
        assert!(!s.do_not_disturb);
        let check = |name: &str, value: &str, ok: bool| {
            let set = SettingChange::parse(name, value).and_then(|c| e.set_setting(&c));
            assert_eq!(set.is_ok(), ok, "{name}={value}");
        };
        check("default_country", "gb", true);
        check("default_country", "XX", false);
        check("notification_privacy", "sender", true);
        check("notification_privacy", "loud", false);
        check("do_not_disturb", "on", true);
        check("do_not_disturb", "maybe", false);
        check("carrier", "twilio", false);
        check("poll_interval", "30", true);
        check("poll_interval", "1", false);
        check("poll_interval", "often", false);
        check("api_token", "x", false);
        let s = e.settings().unwrap();
        assert_eq!(s.default_country, "GB");
        assert!(s.do_not_disturb);
        assert_eq!(s.notification_privacy, super::NotificationPrivacy::Sender);
        assert_eq!(s.poll_interval, 30);
    }

    #[test]
    fn typed_changes_are_validated_too() {
        assert_eq!(
            SettingChange::parse("poll_interval", "30s").unwrap(),
            SettingChange::PollInterval(30)
        );
        let (_d, e) = engine();
        assert!(e.set_setting(&SettingChange::PollInterval(1)).is_err());
        assert!(
            !e.set_setting(&SettingChange::DoNotDisturb(false))
                .unwrap()
                .do_not_disturb
        );
    }
}
