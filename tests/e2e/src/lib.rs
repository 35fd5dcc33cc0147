//! End-to-end tests of the main job. They live in `tests/` and run the binaries that
//! `cargo build --workspace --bins` leaves in the target directory; this library is empty.
