//! Answers "which device/user had IP X at time T" from the static map and
//! the lease intervals.

use crate::event::Event;
use crate::identity::static_map::{StaticEntry, StaticKey};
use crate::identity::{Lease, Mac};
use crate::time::Timestamp;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

/// Where an identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IdentitySource {
    /// A DHCP lease (possibly named through the static map by MAC).
    Lease,
    /// A static IP entry.
    Static,
}

/// The answer to an identity question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Identity {
    /// Device name (static map), else the lease's host name.
    pub device: Option<String>,
    /// User (static map).
    pub user: Option<String>,
    /// Hardware address from the lease.
    pub mac: Option<Mac>,
    /// Host name the DHCP client sent.
    pub hostname: Option<String>,
    /// Which source answered.
    pub source: IdentitySource,
    /// When the mapping began (`None`: unknown / always).
    pub valid_from: Option<Timestamp>,
    /// When it ended (`None`: open-ended).
    pub valid_until: Option<Timestamp>,
}

/// Static entries plus lease intervals per IP.
#[derive(Debug, Clone, Default)]
pub struct IdentityResolver {
    by_ip: HashMap<IpAddr, StaticEntry>,
    by_mac: HashMap<Mac, StaticEntry>,
    leases: HashMap<IpAddr, Vec<Lease>>,
}

impl IdentityResolver {
    /// An empty resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds static map rows (a later row for the same key replaces an earlier one).
    pub fn add_static(&mut self, entries: impl IntoIterator<Item = StaticEntry>) {
        for e in entries {
            match e.key {
                StaticKey::Ip(ip) => {
                    self.by_ip.insert(ip, e);
                }
                StaticKey::Mac(m) => {
                    self.by_mac.insert(m, e);
                }
            }
        }
    }

    /// Adds leases. A lease with the same IP, start and MAC as one already
    /// known replaces it (dhcpd appends updated copies of a binding).
    pub fn add_leases(&mut self, leases: impl IntoIterator<Item = Lease>) {
        for l in leases {
            let v = self.leases.entry(l.ip).or_default();
            if let Some(old) = v.iter_mut().find(|o| o.starts == l.starts && o.mac == l.mac) {
                *old = l;
            } else {
                let at = v.partition_point(|o| o.starts <= l.starts);
                v.insert(at, l);
            }
        }
    }

    /// Number of lease intervals known.
    pub fn lease_count(&self) -> usize {
        self.leases.values().map(Vec::len).sum()
    }

    /// Who had `ip` at `at`. With `at = None`, the most recent lease counts.
    /// A lease covering the time wins over a static IP entry; among
    /// overlapping leases the one that started last wins.
    pub fn resolve(&self, ip: IpAddr, at: Option<Timestamp>) -> Option<Identity> {
        let lease = self.leases.get(&ip).and_then(|v| match at {
            Some(t) => {
                let upto = v.partition_point(|l| l.starts.is_none_or(|s| s <= t));
                v[..upto].iter().rev().find(|l| l.covers(t))
            }
            None => v.last(),
        });
        if let Some(l) = lease {
            let named = l.mac.and_then(|m| self.by_mac.get(&m)).or_else(|| self.by_ip.get(&ip));
            return Some(Identity {
                device: named.and_then(|e| e.device.clone()).or_else(|| l.hostname.clone()),
                user: named.and_then(|e| e.user.clone()),
                mac: l.mac,
                hostname: l.hostname.clone(),
                source: IdentitySource::Lease,
                valid_from: l.starts,
                valid_until: l.ends,
            });
        }
        self.by_ip.get(&ip).map(|e| Identity {
            device: e.device.clone(),
            user: e.user.clone(),
            mac: None,
            hostname: None,
            source: IdentitySource::Static,
            valid_from: None,
            valid_until: None,
        })
    }

    /// Fills `device.id`, `user.name` and `host.name` of an event from its
    /// `source.ip` and `@timestamp`, keeping values the log already had.
    pub fn enrich(&self, ev: &mut Event<'_>) {
        let Some(ip) = ev.source_ip else { return };
        let Some(id) = self.resolve(ip, ev.timestamp) else {
            return;
        };
        if ev.device_id.is_none() {
            ev.device_id = id
                .device
                .clone()
                .or_else(|| id.mac.map(|m| m.to_string()))
                .map(Cow::Owned);
        }
        if ev.user_name.is_none() {
            ev.user_name = id.user.map(Cow::Owned);
        }
        if ev.host_name.is_none() {
            ev.host_name = id.hostname.map(Cow::Owned);
        }
    }
}
