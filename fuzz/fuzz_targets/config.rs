//! Any text through the configuration parser: it answers a configuration or an error with a
//! position inside the text, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err((offset, message)) = pulsetap_collector::configuration::parse(text) {
        assert!(offset <= text.len(), "the error points inside the file");
        assert!(!message.is_empty());
    }
});
