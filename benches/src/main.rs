//! `tarsmon-load`: not written yet (see the load-and-performance issue); it exits with an error
//! so nobody mistakes it for a working generator.

fn main() {
    eprintln!("tarsmon-load is not implemented yet");
    std::process::exit(2);
}
