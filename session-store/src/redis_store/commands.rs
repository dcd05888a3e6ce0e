//! What [`RedisStore`](super::RedisStore) sends besides plain commands:
//! its two Lua scripts, TTLs as `PX` arguments, keys as stored (hash-tagged
//! in a cluster) and the key of an event log's sequence counter.
//!
//! Imports: the crate's `keys` and `store`. Must not import any other
//! module of `redis_store`.

use std::borrow::Cow;
use std::time::Duration;

use crate::keys::RecordKey;
use crate::store::ttl_millis;

/// Longest TTL sent to Redis (100 years, as `MemoryStore` clamps): `PX`
/// rejects values that overflow when added to the current time.
pub(super) const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// `compare_and_put`: `KEYS[1]` key; `ARGV[1]` expected, `ARGV[2]` new value,
/// `ARGV[3]` TTL in ms or `KEEPTTL`. Returns 1 if swapped, else 0. A GET on an
/// event log fails with WRONGTYPE before anything is written.
pub(super) const COMPARE_AND_PUT_LUA: &str = r"
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return 0
end
if ARGV[3] == 'KEEPTTL' then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
";

/// `append_event`: `KEYS[1]` log (a stream), `KEYS[2]` its sequence counter;
/// `ARGV[1]` event, `ARGV[2]` cap (>= 1), `ARGV[3]` TTL in ms. Returns the event's
/// sequence number. A new log restarts the counter at 1; a counter lost
/// while its log lives (eviction, a stray DEL, a `touch` of the log alone)
/// resumes after the newest entry, so ids stay increasing. Scripts are not
/// rolled back on error, so the type is checked before any write.
pub(super) const APPEND_EVENT_LUA: &str = r"
local kind = redis.call('TYPE', KEYS[1])['ok']
local seq
if kind == 'none' then
  seq = 1
  redis.call('SET', KEYS[2], seq)
elseif kind == 'stream' then
  seq = redis.call('INCR', KEYS[2])
  local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  if top then
    local last = tonumber(string.match(top[1], '^%d+'))
    if seq <= last then
      seq = last + 1
      redis.call('SET', KEYS[2], seq)
    end
  end
else
  return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], string.format('%d-0', seq), 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return seq
";

/// The key of the sequence counter of the event log stored as `log`:
/// `LOG:seq`. In a cluster both must share a slot: a log key without a hash
/// tag (hashed whole) gets its counter at `{LOG}:seq`, which hashes the same
/// (unless LOG holds a `}`: such a log cannot be appended to in a cluster).
pub(super) fn seq_key(log: &str, cluster: bool) -> String {
    if cluster && !has_hash_tag(log) && !log.contains('}') {
        format!("{{{log}}}:seq")
    } else {
        format!("{log}:seq")
    }
}

/// How a store names a [`RecordKey`] in Redis: [`RecordKey::cluster_key`]
/// in a cluster, the key as is otherwise.
pub(super) fn stored_key(key: &RecordKey, cluster: bool) -> Cow<'_, str> {
    if cluster {
        key.cluster_key()
    } else {
        Cow::Borrowed(key.as_str())
    }
}

/// Whether Redis Cluster hashes `key` by a tag: a `{` followed later by a
/// `}` with at least one byte between them (the first such pair counts).
pub(super) fn has_hash_tag(key: &str) -> bool {
    key.split_once('{')
        .and_then(|(_, after)| after.find('}'))
        .is_some_and(|end| end > 0)
}

/// A TTL as Redis' `PX` argument: whole ms, at least 1, at most 100 years.
pub(super) fn px(ttl: Duration) -> u64 {
    ttl_millis(ttl).min(MAX_TTL_MS)
}
