//! Pod liveness: one short-lived, signed record per pod, rewritten every
//! [`POD_BEAT`], instead of one lease per session. A session's owner record
//! names a pod incarnation; the session is that pod's while the pod's record
//! shows that incarnation alive. So the steady-state store cost is per pod,
//! and the death of a pod frees all its sessions at once.
//!
//! **Safety (one writer per instance).** A pod writes to its instances only
//! while its own record is certainly still in the store: until the moment
//! its last successful beat was *sent* plus [`POD_TTL`] minus [`MARGIN`]
//! (local monotonic clock). Another pod takes a session over only once the
//! owner's record is gone, i.e. after that moment. A pod whose record lapsed
//! (it stalled, or lost the store) finds the gap at its next beat and, before
//! writing again, re-claims each session by compare-and-swap on its owner
//! record: a session another pod took in the meantime is let go.
//!
//! **Speed.** A refused connection to a pod's advertised URL is proof that
//! the pod's process is gone (it binds its listener before it writes its
//! record and keeps it open until it exits, except while draining, which its
//! record says), so the pod that saw it marks the record dead at once
//! ([`Cluster::declare_gone`]) and takes over without waiting for the TTL.
//! A pod only offers this (`evidence`) after checking, on several new
//! connections, that its advertised URL reaches itself and no other
//! process; a refusal at a loopback or unspecified address counts only
//! from the owner's own network namespace (`cluster::place`), one at a
//! routable address only from a pod that has reached the owner's network
//! there before (`cluster::reach`).
//!
//! May import: `cluster::{inner, records, place}`, external crates.

use std::sync::atomic::Ordering;
use std::time::Duration;

use berth_session_store::Error as StoreError;
use tokio::time::Instant;

use super::inner::Cluster;
use super::place;
use super::records::{Lease, PodRecord};

/// How long a pod record lives without a beat: the longest a pod that
/// vanished without a refused connection (a node lost) holds its sessions.
pub(crate) const POD_TTL: Duration = Duration::from_millis(2_000);

/// How often a pod rewrites its record.
pub(crate) const POD_BEAT: Duration = Duration::from_millis(500);

/// Local validity ends this long before the store could expire the record
/// (clock-rate drift and the time between the check and the write).
const MARGIN: Duration = Duration::from_millis(300);

/// How often a pod waiting for another to be gone looks again.
const GONE_POLL: Duration = Duration::from_millis(100);

/// Header of `/healthz` answers naming the answering process
/// ([`Cluster::instance_tag`]).
pub(crate) const INSTANCE_HEADER: &str = "berth-instance";

/// Answers in a row, each on a new connection, that show a pod its
/// advertised URL reaches it alone ([`Cluster::check_own_url`]).
const CONFIRMATIONS: u32 = 5;

/// Value that replaces the record of a pod proven gone (never verifies).
const TOMBSTONE: &[u8] = b"gone";

/// What a beat found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Beat {
    /// The record was still there: writes go on.
    Kept,
    /// The record had lapsed (or been replaced) and is written again;
    /// sessions must be re-claimed before writes resume
    /// ([`Cluster::resume_writes`]).
    Gap(Instant),
    /// The store did not answer; writes stop when the validity runs out.
    Failed,
}

/// Another pod, as its record shows it.
#[derive(Debug)]
pub(crate) enum PodState {
    /// Alive: its record shows the incarnation the lease names (and
    /// whether it is draining).
    Alive {
        /// It is shutting down (handing its sessions over).
        draining: bool,
    },
    /// Gone: no record, a tombstone, another incarnation, or a record
    /// that does not verify.
    Gone,
}

// === impl Cluster (liveness) ===

impl Cluster {
    /// Whether this pod may write to its instances now (always, with a
    /// store no other pod shares).
    pub(crate) fn writable(&self) -> bool {
        if !self.inner.shared {
            return true;
        }
        let live = &self.inner.live;
        live.nanos(Instant::now()) < live.until.load(Ordering::Acquire)
    }

    /// Waits until this pod may write again; `false` if it still may not
    /// after two record lifetimes (the store is unreachable).
    pub(crate) async fn wait_writable(&self) -> bool {
        let deadline = Instant::now() + POD_TTL * 2;
        loop {
            if self.writable() {
                return true;
            }
            let opened = self.inner.live.opened.notified();
            if self.writable() {
                return true;
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(wait.min(GONE_POLL), opened).await;
        }
    }

    /// This pod's record as it should read now.
    fn my_record(&self) -> PodRecord {
        let live = &self.inner.live;
        PodRecord {
            pod: self.inner.pod.clone(),
            url: self.url().to_owned(),
            incarnation: self.inner.incarnation.clone(),
            draining: live.draining.load(Ordering::Acquire),
            evidence: live.evidence.load(Ordering::Acquire),
        }
    }

    /// Rewrites this pod's record; extends the write validity when the
    /// record was still there.
    pub(crate) async fn beat(&self) -> Beat {
        if self.retired() {
            return Beat::Failed;
        }
        let sent = Instant::now();
        let key = PodRecord::key(&self.inner.pod);
        let value = self.my_record().seal(&self.inner.keys);
        let expected = self.inner.live.written.lock().clone();
        let store = &self.inner.store;
        let kept = match &expected {
            Some(old) => store
                .compare_and_put(&key, old, value.clone(), Some(POD_TTL))
                .await
                .map_err(log_beat),
            None => Ok(false),
        };
        match kept {
            Ok(true) => {
                *self.inner.live.written.lock() = Some(value);
                self.inner.live.beats.fetch_add(1, Ordering::AcqRel);
                if !self.inner.live.gap.load(Ordering::Acquire) {
                    self.extend(sent);
                }
                Beat::Kept
            }
            Ok(false) => match store.put(&key, value.clone(), POD_TTL).await {
                Ok(()) => {
                    *self.inner.live.written.lock() = Some(value);
                    self.inner.live.beats.fetch_add(1, Ordering::AcqRel);
                    self.inner.live.gap.store(true, Ordering::Release);
                    Beat::Gap(sent)
                }
                Err(e) => {
                    log_beat(e);
                    Beat::Failed
                }
            },
            Err(()) => Beat::Failed,
        }
    }

    /// Allows writes again after a gap, once its sessions are re-claimed,
    /// until the validity of the beat sent at `sent`.
    pub(crate) fn resume_writes(&self, sent: Instant) {
        self.inner.live.gap.store(false, Ordering::Release);
        self.extend(sent);
    }

    /// Allows writes until the validity of a beat sent at `sent`.
    fn extend(&self, sent: Instant) {
        let live = &self.inner.live;
        let until = live.nanos(sent + POD_TTL.saturating_sub(MARGIN));
        live.until.fetch_max(until, Ordering::AcqRel);
        live.opened.notify_waiters();
    }

    /// Asks the heartbeat (the one task that beats) for a beat now.
    pub(crate) fn beat_soon(&self) {
        self.inner.live.beat_now.notify_one();
    }

    /// Resolves when a beat is asked for ([`Cluster::beat_soon`]).
    pub(crate) async fn beat_asked(&self) {
        self.inner.live.beat_now.notified().await;
    }

    /// Says in this pod's record that it is shutting down (a refused
    /// connection to it proves nothing from now on); waits up to a second
    /// for the heartbeat to write it.
    pub(crate) async fn set_draining(&self) {
        self.inner.live.draining.store(true, Ordering::Release);
        if !self.inner.shared {
            return;
        }
        let before = self.inner.live.beats.load(Ordering::Acquire);
        self.beat_soon();
        for _ in 0..20 {
            if self.inner.live.beats.load(Ordering::Acquire) > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::warn!("could not mark this pod as draining in the session store");
    }

    /// Says whether other pods may take a refused connection to this pod's
    /// advertised URL as proof that it is gone (from the next beat).
    pub(crate) fn set_evidence(&self, evidence: bool) {
        self.inner.live.evidence.store(evidence, Ordering::Release);
    }

    /// A tag of this process that `/healthz` answers with (in
    /// [`INSTANCE_HEADER`]), so a pod can tell that its advertised URL
    /// reaches itself. Reveals nothing of the incarnation.
    pub(crate) fn instance_tag(&self) -> String {
        tag_of(&self.inner.incarnation)
    }

    /// Checks that this pod's advertised URL reaches this very process and
    /// no other: [`CONFIRMATIONS`] answers in a row from this process, each
    /// on a new connection (a balancer in front of several pods would hand
    /// some to another). Only then may other pods take a refused
    /// connection there as proof that it is gone. An answer from another
    /// Berth process ends the check for good: the URL is shared, so neither
    /// a refusal there nor holding its address proves anything. Retried
    /// for a while (the listener may be starting).
    pub(crate) async fn check_own_url(&self) {
        if place::unspecified(self.url()) {
            tracing::warn!(url = %self.url(), "this pod advertises its listen address, which other hosts cannot reach it at: requests for its sessions that reach pods on other hosts fail; set cluster.advertise_url to an address of this pod (its own IP)");
        }
        let url = format!("{}/healthz", self.url());
        let tag = self.instance_tag();
        let mut last = String::new();
        let mut confirmed = 0;
        for _ in 0..20 {
            match self.inner.probe.get(&url).send().await {
                Ok(r) => match r.headers().get(INSTANCE_HEADER) {
                    Some(v) if v.as_bytes() == tag.as_bytes() => {
                        confirmed += 1;
                        if confirmed == CONFIRMATIONS {
                            self.set_evidence(true);
                            self.beat_soon();
                            tracing::debug!(%url, "the advertised URL reaches this pod");
                            return;
                        }
                        continue;
                    }
                    Some(other) => {
                        self.inner.holds_url.store(false, Ordering::Release);
                        tracing::error!(%url, other = %String::from_utf8_lossy(other.as_bytes()), "another Berth process answers at this pod's advertised URL (cluster.advertise_url): it must reach this pod alone (its own IP, as the Helm chart sets it). Until it does, other pods take this pod's sessions over only after its liveness record lapses");
                        return;
                    }
                    None => last = format!("{url} answered {} but is not a Berth pod", r.status()),
                },
                Err(e) => last = format!("{url}: {e}"),
            }
            confirmed = 0;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tracing::error!(%last, "this pod's advertised URL (cluster.advertise_url) does not reach it; other pods cannot forward requests here, and take its sessions over only after its liveness record lapses");
    }

    /// Whether [`Cluster::retire`] ran (the pod is exiting).
    pub(crate) fn retired(&self) -> bool {
        self.inner.live.retired.load(Ordering::Acquire)
    }

    /// Removes this pod's record (at exit, once its sessions are handed
    /// over or stopped).
    pub(crate) async fn retire(&self) {
        self.inner.live.retired.store(true, Ordering::Release);
        if !self.inner.shared {
            return;
        }
        self.inner.live.until.store(0, Ordering::Release);
        let key = PodRecord::key(&self.inner.pod);
        let written = self.inner.live.written.lock().take();
        if let Some(old) = written {
            let _ = self
                .inner
                .store
                .compare_and_put(&key, &old, TOMBSTONE.to_vec(), Some(POD_TTL))
                .await;
        }
    }

    /// Whether the pod `lease` names still runs that incarnation.
    pub(crate) async fn pod_state(&self, lease: &Lease) -> Result<PodState, StoreError> {
        let key = PodRecord::key(&lease.pod);
        let Some(raw) = self.inner.store.get(&key).await? else {
            return Ok(PodState::Gone);
        };
        Ok(match PodRecord::open(&self.inner.keys, &lease.pod, &raw) {
            Ok(record) if record.incarnation == lease.incarnation => PodState::Alive {
                draining: record.draining,
            },
            Ok(_) => PodState::Gone,
            Err(why) => {
                if raw != TOMBSTONE {
                    tracing::warn!(pod = %lease.pod, ?why, "a pod record in the session store does not verify; treating that pod as gone");
                }
                PodState::Gone
            }
        })
    }

    /// The owner named by `lease` refused a connection: if its record
    /// allows that as proof (it is not draining and checked its URL),
    /// marks it gone at once. `true` if it is gone now.
    pub(crate) async fn declare_gone(&self, lease: &Lease) -> bool {
        let key = PodRecord::key(&lease.pod);
        let Ok(Some(raw)) = self.inner.store.get(&key).await else {
            return false;
        };
        let record = match PodRecord::open(&self.inner.keys, &lease.pod, &raw) {
            Ok(record) if record.incarnation == lease.incarnation => record,
            _ => return true,
        };
        if record.draining || !record.evidence || record.url != lease.url {
            return false;
        }
        let proves = if place::local_only(&lease.url) {
            // A loopback or unspecified address refused here proves
            // something only in the owner's own network namespace.
            place::same_network(&lease.incarnation, &self.inner.incarnation)
        } else {
            // A routable address proves something only if it reached the
            // owner's network from here before (not another network's
            // host at the same private address).
            self.reached(&lease.url, &lease.incarnation)
        };
        if !proves {
            return false;
        }
        let marked = self
            .inner
            .store
            .compare_and_put(&key, &raw, TOMBSTONE.to_vec(), Some(POD_TTL))
            .await;
        match marked {
            Ok(true) => {
                tracing::warn!(pod = %lease.pod, url = %lease.url, "a Berth pod refused connections at its advertised URL; marked it gone and taking its sessions over");
                true
            }
            // The record changed meanwhile: most often another pod saw the
            // refusal too and marked it first.
            Ok(false) => matches!(self.pod_state(lease).await, Ok(PodState::Gone)),
            Err(_) => false,
        }
    }

    /// Resolves once the pod `lease` names is gone (its record lapsed,
    /// was marked gone, or names another incarnation). An unreadable store
    /// counts as still alive.
    pub(crate) async fn gone(&self, lease: &Lease) {
        loop {
            tokio::time::sleep(GONE_POLL).await;
            if let Ok(PodState::Gone) = self.pod_state(lease).await {
                return;
            }
        }
    }
}

/// The tag `/healthz` answers with in the process of `incarnation`.
pub(super) fn tag_of(incarnation: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(incarnation.as_bytes())[..8])
}

fn log_beat(e: StoreError) {
    tracing::warn!(error = %e, "could not renew this pod's liveness record; writes to instances pause when it runs out");
}

#[cfg(test)]
mod tests;
