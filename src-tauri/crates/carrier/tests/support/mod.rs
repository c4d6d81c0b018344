//! A server the tests start as a process of its own on a free loopback port (Prism, moto), and
//! stop however the test ends.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Runs `bin` with `args(port)` and waits until it listens on that port.
    pub fn start(bin: &Path, args: impl FnOnce(u16) -> Vec<String>, within: Duration) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args(args(port))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin:?} did not start: {e}"));
        let mut server = Server {
            child,
            addr: ([127, 0, 0, 1], port).into(),
        };
        let deadline = Instant::now() + within;
        while TcpStream::connect(server.addr).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{bin:?} exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{bin:?} did not listen within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
