//! [`AnswerScan`]: which request an oversized server message answered,
//! found while the message streams past and is thrown away.
//!
//! A stdio server's line over `limits.max_message_bytes` is never kept
//! (see `framing`), but the request it answered should fail at once, not
//! at its timeout. The scan keeps a few bytes of state: the nesting depth,
//! whether it is inside a string, the current top-level key (up to 8
//! bytes) and the digits of a top-level `id`. It is tolerant of anything
//! (it never fails, it only finds nothing) and finds the id wherever it
//! is in the object: SDKs put it first (Python) or last (TypeScript).
//!
//! May import: external crates only.

/// Longest top-level key remembered (`id`, `method`; longer keys are
/// "some other key").
const KEY_CAP: usize = 8;

/// The streaming scan of one message's top-level `id` and `method`.
#[derive(Debug, Default)]
pub(crate) struct AnswerScan {
    /// Nesting depth: 1 inside the top-level object.
    depth: u32,
    /// The first top-level object ended: the rest is ignored.
    done: bool,
    in_string: bool,
    escaped: bool,
    /// At depth 1, outside strings: the next string is a key.
    expect_key: bool,
    /// The string being read is a top-level key.
    in_key: bool,
    key: [u8; KEY_CAP],
    key_len: usize,
    /// The key is longer than [`KEY_CAP`] or has escapes: not one we want.
    key_other: bool,
    /// The value being read is the top-level `id`.
    in_id: bool,
    /// Digits of the top-level `id` so far (`None` once it is not an
    /// unsigned integer).
    digits: Option<u64>,
    saw_digit: bool,
    id: Option<u64>,
    has_method: bool,
}

// === impl AnswerScan ===

impl AnswerScan {
    /// Feeds the next bytes of the message.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.done {
            if self.in_string {
                bytes = self.string_bytes(bytes);
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            self.structural(b);
        }
    }

    /// The backend-side id this message answers: its top-level `id`, an
    /// unsigned integer, when it has no top-level `method` (a request or
    /// notification from the server is no answer).
    pub(crate) fn answers(&self) -> Option<u64> {
        let id = if self.in_id {
            self.pending_id()
        } else {
            self.id
        };
        id.filter(|_| !self.has_method)
    }

    /// Consumes string bytes up to and including its closing quote, or all
    /// of `bytes`; returns the rest.
    fn string_bytes<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        if self.escaped {
            self.escaped = false;
            // An escape in a key makes it no key we look for.
            self.key_other |= self.in_key;
            return &bytes[1..];
        }
        let Some(at) = memchr::memchr2(b'"', b'\\', bytes) else {
            self.key_bytes(bytes);
            return &[];
        };
        self.key_bytes(&bytes[..at]);
        if bytes[at] == b'\\' {
            self.escaped = true;
        } else {
            self.in_string = false;
            if self.in_key {
                self.in_key = false;
                // An `id` string value is no Berth id (those are numbers).
            }
        }
        &bytes[at + 1..]
    }

    fn key_bytes(&mut self, part: &[u8]) {
        if !self.in_key || self.key_other {
            return;
        }
        if self.key_len + part.len() > KEY_CAP {
            self.key_other = true;
            return;
        }
        self.key[self.key_len..self.key_len + part.len()].copy_from_slice(part);
        self.key_len += part.len();
    }

    fn key(&self) -> Option<&[u8]> {
        (!self.key_other).then(|| &self.key[..self.key_len])
    }

    fn pending_id(&self) -> Option<u64> {
        self.digits.filter(|_| self.saw_digit)
    }

    /// One byte outside any string.
    fn structural(&mut self, b: u8) {
        if self.in_id {
            match b {
                b'0'..=b'9' => {
                    self.saw_digit = true;
                    self.digits = self
                        .digits
                        .and_then(|d| d.checked_mul(10)?.checked_add(u64::from(b - b'0')));
                    return;
                }
                b' ' | b'\t' | b'\r' | b'\n' if !self.saw_digit => return,
                b',' | b'}' | b' ' | b'\t' | b'\r' | b'\n' => {
                    self.id = self.id.or(self.pending_id());
                    self.in_id = false;
                }
                _ => {
                    // A string, fraction, sign, object...: not a Berth id.
                    self.digits = None;
                    self.in_id = false;
                }
            }
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key {
                    self.in_key = true;
                    self.key_len = 0;
                    self.key_other = false;
                }
            }
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth == 1 {
                    self.expect_key = b == b'{';
                }
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    self.done = true;
                }
            }
            b':' if self.depth == 1 => {
                self.expect_key = false;
                match self.key() {
                    Some(b"id") => {
                        self.in_id = true;
                        self.digits = Some(0);
                        self.saw_digit = false;
                    }
                    Some(b"method") => self.has_method = true,
                    _ => {}
                }
            }
            b',' if self.depth == 1 => self.expect_key = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `text` fed in pieces of `step` bytes.
    fn scan(text: &str, step: usize) -> Option<u64> {
        let mut s = AnswerScan::default();
        for part in text.as_bytes().chunks(step) {
            s.feed(part);
        }
        s.answers()
    }

    fn all_steps(text: &str) -> Option<u64> {
        let first = scan(text, text.len().max(1));
        for step in 1..8 {
            assert_eq!(scan(text, step), first, "step {step}: {text}");
        }
        first
    }

    #[test]
    fn finds_the_id_of_a_response_wherever_it_is() {
        let big = "x".repeat(100);
        let id_first = format!(r#"{{"jsonrpc":"2.0","id":42,"result":{{"text":"{big}"}}}}"#);
        assert_eq!(all_steps(&id_first), Some(42));
        let id_last = format!(r#"{{"result":{{"id":7,"text":"{big}"}},"jsonrpc":"2.0","id":42}}"#);
        assert_eq!(all_steps(&id_last), Some(42));
        let spaced = "{ \"id\" :\r\n 9 , \"error\": {\"message\": \"\\\"id\\\":3\"} }";
        assert_eq!(all_steps(spaced), Some(9));
        // Cut off before the object ends (the reader saw all it will see).
        assert_eq!(all_steps(r#"{"id":12"#), Some(12));
        assert_eq!(all_steps(r#"{"result":"…","id":12"#), Some(12));
    }

    #[test]
    fn finds_nothing_where_there_is_no_berth_id() {
        for text in [
            r#"{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"id":4}}"#,
            r#"{"result":{"id":5}}"#,
            r#"{"id":"5","result":{}}"#,
            r#"{"id":-5,"result":{}}"#,
            r#"{"id":5.5,"result":{}}"#,
            r#"{"id":null,"error":{}}"#,
            r#"{"id":99999999999999999999999,"result":{}}"#,
            r#"{"i\u0064":5,"result":{}}"#,
            r#"["id",5]"#,
            r#"{"a":"b\"id\":5"}"#,
            "xxxxxxxxxxxxxxxxxxxxxxxxxx",
            "",
        ] {
            assert_eq!(all_steps(text), None, "{text}");
        }
    }

    #[test]
    fn only_the_first_object_counts() {
        assert_eq!(all_steps(r#"{"result":1} {"id":5}"#), None);
        assert_eq!(all_steps(r#"{"id":5} {"method":"x"}"#), Some(5));
    }
}
