//! A data directory's sandbox: where it keeps its state, and the address file through which
//! other processes find it (the CLI steers a sandbox the app or `sandbox serve` runs, and a
//! restart serves it on the same port so a sender that knows the address finds it again).

use std::path::{Path, PathBuf};

use switchboard_carrier::CarrierEndpoint;

use crate::{SandboxConfig, SandboxHandle};

const ENDPOINT_FILE: &str = "endpoint.json";

/// Where a data directory's sandbox keeps its state and its address.
pub fn sandbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox")
}

/// The sandbox address written by whoever serves it (the app, or `switchboard-cli sandbox
/// serve`).
pub fn endpoint_file(data_dir: &Path) -> PathBuf {
    sandbox_dir(data_dir).join(ENDPOINT_FILE)
}

/// The address of the data directory's sandbox, as its server last wrote it.
pub fn load_endpoint(data_dir: &Path) -> std::io::Result<CarrierEndpoint> {
    let text = std::fs::read_to_string(endpoint_file(data_dir))?;
    serde_json::from_str(&text).map_err(std::io::Error::other)
}

fn save_endpoint(endpoint: &CarrierEndpoint, data_dir: &Path) -> std::io::Result<()> {
    let path = endpoint_file(data_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(endpoint).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}

impl SandboxHandle {
    /// Where this sandbox answers, for a Twilio-protocol client.
    pub fn endpoint(&self) -> CarrierEndpoint {
        CarrierEndpoint {
            api_base_url: self.api_base_url(),
            account_sid: self.account_sid().to_owned(),
            auth_token: self.auth_token().to_owned(),
            sandbox_control_url: Some(self.control_url()),
        }
    }
}

/// Serves a data directory's sandbox carrier (on its previous API port when `api_port` is
/// `None`) and records its address.
pub async fn serve_sandbox(
    data_dir: &Path,
    api_port: Option<u16>,
    control_port: u16,
) -> std::io::Result<(SandboxHandle, CarrierEndpoint)> {
    let previous = load_endpoint(data_dir).ok().and_then(|e| e.api_port());
    let mut config = SandboxConfig::new(sandbox_dir(data_dir));
    config.api_port = api_port.or(previous).unwrap_or(0);
    config.control_port = control_port;
    let handle = match crate::serve(config.clone()).await {
        Ok(handle) => handle,
        // The old port is taken by now: any free one will do.
        Err(_) if api_port.is_none() && config.api_port != 0 => {
            config.api_port = 0;
            crate::serve(config).await.map_err(std::io::Error::other)?
        }
        Err(e) => return Err(std::io::Error::other(e)),
    };
    let endpoint = handle.endpoint();
    save_endpoint(&endpoint, data_dir)?;
    Ok((handle, endpoint))
}
