//! Only tests live here (`tests/`): the engine's use cases against the sandbox carrier over real
//! HTTP on loopback. They are a crate of their own because the engine may not depend on the
//! sandbox, not even for its tests (`scripts/check-boundaries`): the sandbox is a carrier like
//! any other, reached through the `Carrier` trait.
