//! Application settings as JSON values, under the keys listed in [`SettingKey`] — the one
//! place that says what can be stored.

use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Result, StoreError};
use crate::Store;

/// Every setting the store accepts. Secrets (carrier credentials) never go here: they live in
/// the OS keychain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingKey {
    /// ISO 3166 region used to read numbers typed without a country code, e.g. `"US"`.
    DefaultCountry,
    /// What a notification shows: `"full"`, `"sender"` or `"nothing"`.
    NotificationPrivacy,
    /// `true` silences notifications.
    DoNotDisturb,
    /// Receptionist mode: the window stays on top.
    AlwaysOnTop,
    /// The window's size and position, restored at start.
    WindowGeometry,
    StartMinimized,
    /// The global shortcut that shows or hides the window, e.g. `"CmdOrCtrl+Shift+Space"`.
    GlobalShortcut,
    /// Which carrier is used and its non-secret configuration.
    Carrier,
    /// Where the inbound sync left off, per line (opaque to the store).
    SyncCursor,
    /// The connected Twilio account as shown in Settings (its name, the end of its SID); the
    /// credentials themselves are in the keychain.
    CarrierAccount,
    /// Seconds between two polls of the carrier for replies and delivery reports.
    PollInterval,
    /// The media host as shown in Settings (endpoint and bucket); its full configuration, keys
    /// included, is in the keychain.
    MediaHost,
}

impl SettingKey {
    pub const ALL: [SettingKey; 12] = [
        SettingKey::DefaultCountry,
        SettingKey::NotificationPrivacy,
        SettingKey::DoNotDisturb,
        SettingKey::AlwaysOnTop,
        SettingKey::WindowGeometry,
        SettingKey::StartMinimized,
        SettingKey::GlobalShortcut,
        SettingKey::Carrier,
        SettingKey::SyncCursor,
        SettingKey::CarrierAccount,
        SettingKey::MediaHost,
        SettingKey::PollInterval,
    ];

    /// The stored name (also the name the UI and the CLI use).
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKey::DefaultCountry => "default_country",
            SettingKey::NotificationPrivacy => "notification_privacy",
            SettingKey::DoNotDisturb => "do_not_disturb",
            SettingKey::AlwaysOnTop => "always_on_top",
            SettingKey::WindowGeometry => "window_geometry",
            SettingKey::StartMinimized => "start_minimized",
            SettingKey::GlobalShortcut => "global_shortcut",
            SettingKey::Carrier => "carrier",
            SettingKey::SyncCursor => "sync_cursor",
            SettingKey::CarrierAccount => "carrier_account",
            SettingKey::MediaHost => "media_host",
            SettingKey::PollInterval => "poll_interval",
        }
    }

    /// A key from its name; an unknown name is [`StoreError::UnknownSetting`].
    pub fn parse(name: &str) -> Result<SettingKey> {
        SettingKey::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| StoreError::UnknownSetting(name.to_owned()))
    }
}

impl Store {
    pub fn get_setting(&self, key: SettingKey) -> Result<Option<serde_json::Value>> {
        let text: Option<String> = self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([key.as_str()], |r| r.get(0))
                .optional()?)
        })?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt(format!("setting {}: {e}", key.as_str())))
        })
        .transpose()
    }

    /// A setting read into a type; a stored value of another shape is [`StoreError::Corrupt`].
    pub fn get_setting_as<T: DeserializeOwned>(&self, key: SettingKey) -> Result<Option<T>> {
        self.get_setting(key)?
            .map(|v| {
                serde_json::from_value(v)
                    .map_err(|e| StoreError::Corrupt(format!("setting {}: {e}", key.as_str())))
            })
            .transpose()
    }

    pub fn set_setting(&self, key: SettingKey, value: &serde_json::Value) -> Result<()> {
        let text = value.to_string();
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key.as_str(), text])?;
            Ok(())
        })
    }

    pub fn set_setting_to<T: Serialize>(&self, key: SettingKey, value: &T) -> Result<()> {
        let value = serde_json::to_value(value).map_err(|_| StoreError::InvalidInput {
            what: "setting",
            why: "the value cannot be written as JSON",
        })?;
        self.set_setting(key, &value)
    }

    /// Forgets a setting (back to the default); `false` when it was not set.
    pub fn remove_setting(&self, key: SettingKey) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM settings WHERE key = ?1", [key.as_str()])? > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::new_store;
    use serde_json::json;

    #[test]
    fn names_round_trip() {
        for key in SettingKey::ALL {
            assert_eq!(SettingKey::parse(key.as_str()).unwrap(), key);
        }
        assert_eq!(
            SettingKey::parse("api_token").unwrap_err().code().as_str(),
            "unknown_setting"
        );
    }

    #[test]
    fn values_round_trip() {
        let (_dir, store) = new_store();
        let check = |key: SettingKey, value: serde_json::Value| {
            store.set_setting(key, &value).unwrap();
            assert_eq!(store.get_setting(key).unwrap(), Some(value));
        };
        assert_eq!(store.get_setting(SettingKey::DefaultCountry).unwrap(), None);
        check(SettingKey::DefaultCountry, json!("GB"));
        check(SettingKey::DefaultCountry, json!("US"));
        check(SettingKey::DoNotDisturb, json!(true));
        check(
            SettingKey::WindowGeometry,
            json!({"x": 10, "y": 20, "w": 400, "h": 700}),
        );

        assert_eq!(
            store
                .get_setting_as::<String>(SettingKey::DefaultCountry)
                .unwrap()
                .as_deref(),
            Some("US")
        );
        assert_eq!(
            store
                .get_setting_as::<String>(SettingKey::DoNotDisturb)
                .unwrap_err()
                .code()
                .as_str(),
            "corrupt"
        );
        store
            .set_setting_to(SettingKey::StartMinimized, &false)
            .unwrap();
        assert_eq!(
            store
                .get_setting_as::<bool>(SettingKey::StartMinimized)
                .unwrap(),
            Some(false)
        );
        assert!(store.remove_setting(SettingKey::StartMinimized).unwrap());
        assert_eq!(store.get_setting(SettingKey::StartMinimized).unwrap(), None);
    }
}
