//! Reading Redis replies: integers, `SET … NX` outcomes and `XRANGE`
//! entries, and the error for a reply of the wrong shape.
//!
//! Imports: the crate's `error`. Must not import any other module of
//! `redis_store`.

use redis::Value;

use crate::error::Error;

/// Field name of the one field of each stream entry.
const EVENT_FIELD: &[u8] = b"e";

/// The integer reply to `what`.
pub(super) fn int(reply: &Value, what: &'static str) -> Result<i64, Error> {
    match reply {
        Value::Int(n) => Ok(*n),
        _ => Err(unexpected(what)),
    }
}

/// `SET … NX` replies OK when it wrote, nil when the key existed.
pub(super) fn created(reply: &Value) -> Result<bool, Error> {
    match reply {
        Value::Okay => Ok(true),
        Value::Nil => Ok(false),
        _ => Err(unexpected("SET NX")),
    }
}

/// `[[id, [field, value]], …]` into `(seq, value)`, ids being `seq-0`.
pub(super) fn parse_xrange(reply: Value) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    const BAD: Error = Error::Corrupt("unexpected XRANGE reply from Redis (not a Berth event log)");
    let Value::Array(entries) = reply else {
        return Err(BAD);
    };
    entries
        .into_iter()
        .map(|entry| {
            let Value::Array(entry) = entry else {
                return Err(BAD);
            };
            let [Value::BulkString(id), Value::Array(fields)] =
                <[Value; 2]>::try_from(entry).map_err(|_| BAD)?
            else {
                return Err(BAD);
            };
            let seq = std::str::from_utf8(&id)
                .ok()
                .and_then(|id| id.strip_suffix("-0"))
                .and_then(|seq| seq.parse::<u64>().ok())
                .ok_or(BAD)?;
            let [Value::BulkString(field), Value::BulkString(value)] =
                <[Value; 2]>::try_from(fields).map_err(|_| BAD)?
            else {
                return Err(BAD);
            };
            if field != EVENT_FIELD {
                return Err(BAD);
            }
            Ok((seq, value))
        })
        .collect()
}

/// A reply to `what` that is not what Berth sends `what` for.
pub(super) fn unexpected(what: &'static str) -> Error {
    Error::Unavailable(format!(
        "unexpected reply to {what} from Redis; is store.url pointing at a Redis 6.2+ server?"
    ))
}
