//! `dhcplab leases import|export`: moving leases in from dnsmasq's lease file or Kea's memfile CSV, so an
//! admin can switch servers without clients losing their addresses, and out as Kea CSV or JSON.

use crate::config_file::ConfigFile;
use crate::store::{Change, Discard, LeaseDb};
use dhcplab_engine::config::HexBytes;
use dhcplab_engine::{Duration, HwAddr, Instant, KeyedBy, Lease, LeaseState};
use std::io::Write;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// dnsmasq's lease file: `EXPIRY MAC IP HOSTNAME CLIENT-ID` per line.
    Dnsmasq,
    /// Kea's memfile CSV (`kea-leases4.csv`), read by its header.
    KeaCsv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Kea's memfile CSV, so Kea (or any tool that reads it) can take the leases over.
    KeaCsv,
    /// The API's JSON lease objects.
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum LeasesError {
    #[error("{file}:{line}: {message}")]
    BadLine { file: String, line: usize, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Csv(#[from] csv::Error),
}

/// One lease of the source file, before it is placed in a subnet.
struct Foreign {
    ip: Ipv4Addr,
    hw: HwAddr,
    client_id: Option<HexBytes>,
    hostname: Option<String>,
    /// The name the other server put in DNS for this lease (Kea: `hostname` where `fqdn_fwd` is 1).
    dns_name: Option<String>,
    expires: u64,
    lease_secs: u64,
    state: LeaseState,
}

/// dnsmasq: `1735689600 52:54:00:12:34:56 192.0.2.10 laptop 01:52:54:00:12:34:56` (`*` for none; expiry 0
/// is a lease without end).
fn read_dnsmasq(text: &str, file: &str) -> Result<Vec<Foreign>, LeasesError> {
    let bad = |line, message: &str| LeasesError::BadLine { file: file.into(), line, message: message.into() };
    let mut out = vec![];
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 || f[0] == "duid" {
            continue;
        }
        let expires: u64 = f[0].parse().map_err(|_| bad(i + 1, "the expiry is not a number"))?;
        out.push(Foreign {
            ip: f[2].parse().map_err(|_| bad(i + 1, "not an IPv4 address"))?,
            hw: f[1].parse().map_err(|_| bad(i + 1, "not a hardware address"))?,
            hostname: Some(f[3]).filter(|h| *h != "*").map(String::from),
            dns_name: None,
            client_id: f
                .get(4)
                .filter(|c| **c != "*")
                .map(|c| c.parse())
                .transpose()
                .map_err(|_| bad(i + 1, "bad client id"))?,
            expires: if expires == 0 { u64::MAX / 2000 } else { expires },
            lease_secs: 0,
            state: LeaseState::Bound,
        });
    }
    Ok(out)
}

/// Kea's CSV, by column name: address, hwaddr, client_id, valid_lifetime, expire, hostname, state.
fn read_kea_csv(text: &str, file: &str) -> Result<Vec<Foreign>, LeasesError> {
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let head = r.headers()?.clone();
    let col = |name: &str| head.iter().position(|h| h == name);
    let bad = |line, message: String| LeasesError::BadLine { file: file.into(), line, message };
    let (Some(addr), Some(hw), Some(valid), Some(expire)) =
        (col("address"), col("hwaddr"), col("valid_lifetime"), col("expire"))
    else {
        return Err(bad(
            1,
            "not a Kea DHCPv4 lease file: no address, hwaddr, valid_lifetime and expire columns".into(),
        ));
    };
    let (cid, host, state, fwd) = (col("client_id"), col("hostname"), col("state"), col("fqdn_fwd"));
    let mut out = vec![];
    for (i, rec) in r.records().enumerate() {
        let rec = rec?;
        let line = i + 2;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).filter(|v| !v.is_empty());
        let num = |c, what: &str| {
            get(Some(c)).and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| bad(line, format!("{what} is not a number")))
        };
        out.push(Foreign {
            ip: get(Some(addr)).and_then(|v| v.parse().ok()).ok_or_else(|| bad(line, "not an IPv4 address".into()))?,
            hw: get(Some(hw)).and_then(|v| v.parse().ok()).ok_or_else(|| bad(line, "not a hardware address".into()))?,
            client_id: get(cid).map(|v| v.parse()).transpose().map_err(|_| bad(line, "bad client id".into()))?,
            hostname: get(host).map(String::from),
            dns_name: get(host).filter(|_| get(fwd) == Some("1")).map(String::from),
            expires: num(expire, "expire")?,
            lease_secs: num(valid, "valid_lifetime")?,
            // Kea: 0 assigned, 1 declined, 2 expired and reclaimed.
            state: match get(state) {
                None | Some("0") => LeaseState::Bound,
                Some("1") => LeaseState::Declined,
                _ => LeaseState::Expired,
            },
        });
    }
    // Kea appends every change: the last line for an address is its lease.
    let mut last = std::collections::BTreeMap::new();
    for f in out {
        last.insert(f.ip, f);
    }
    Ok(last.into_values().collect())
}

/// What an import did.
pub struct Imported {
    pub leases: usize,
    /// Addresses in no configured subnet, or whose lease had ended.
    pub skipped: Vec<String>,
}

/// Reads `source` and stores its leases in the config's lease database, each in the subnet that holds its
/// address, keyed as the daemon keys clients (client id if `match_client_id`, else MAC). A name the other
/// server registered in DNS is kept when it lies in `[ddns]`'s forward zone: the daemon then removes its
/// records when the lease ends, as it would its own (their DHCID is RFC 4701's, as Kea makes it).
pub fn import(
    cfg: &ConfigFile,
    db: &LeaseDb,
    format: ImportFormat,
    source: &std::path::Path,
) -> anyhow::Result<Imported> {
    let text = std::fs::read_to_string(source).map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))?;
    let name = source.display().to_string();
    let foreign = match format {
        ImportFormat::Dnsmasq => read_dnsmasq(&text, &name)?,
        ImportFormat::KeaCsv => read_kea_csv(&text, &name)?,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let policy = &cfg.dhcp.policy;
    let mut skipped = vec![];
    let mut changes = vec![];
    for f in foreign {
        let Some(subnet) = cfg.subnet.iter().find(|s| s.cidr.contains(&f.ip)) else {
            skipped.push(format!("{}: in no configured subnet", f.ip));
            continue;
        };
        if f.expires <= now && f.state == LeaseState::Bound {
            skipped.push(format!("{}: its lease has ended", f.ip));
            continue;
        }
        let secs = if f.lease_secs > 0 { f.lease_secs } else { subnet.lease_time.as_secs() };
        // RFC 2131 §4.2, as the engine keys its own records.
        let keyed_by = if f.client_id.is_some() && policy.match_client_id { KeyedBy::ClientId } else { KeyedBy::Hw };
        changes.push(Change::Put(Lease {
            ip: f.ip,
            subnet: subnet.cidr,
            keyed_by,
            hw: f.hw,
            client_id: f.client_id,
            hostname: f.hostname.map(Into::into),
            state: f.state,
            obtained: Instant::from_secs(f.expires.saturating_sub(secs)),
            expires: Instant::from_secs(f.expires),
            lease_secs: dhcplab_engine::time::secs(Duration::from_secs(secs)),
            server: None,
            class: None,
            dns_name: f.dns_name.as_deref().and_then(|n| in_forward_zone(cfg, n)).map(Into::into),
        }));
    }
    let mut opened = std::thread::scope(|s| {
        s.spawn(|| crate::serve::open_store(cfg, db, crate::serve::Opener::Tool, &mut Discard::default())).join()
    })
    .map_err(|_| anyhow::anyhow!("opening the lease database panicked"))??;
    let n = changes.len();
    opened.store.commit(Instant::from_secs(now), &changes)?;
    Ok(Imported { leases: n, skipped })
}

/// `name` as the engine keeps DNS names (lowercase, absolute), if it lies in the forward zone.
fn in_forward_zone(cfg: &ConfigFile, name: &str) -> Option<String> {
    let zone = dhcplab_engine::ddns::zone(&cfg.ddns.as_ref()?.forward_zone);
    let name = dhcplab_engine::ddns::zone(name);
    dhcplab_engine::ddns::below(&name, &zone).then_some(name)
}

/// Writes every lease of the config's database in `format`.
pub fn export(cfg: &ConfigFile, db: &LeaseDb, format: ExportFormat, out: &mut impl Write) -> anyhow::Result<usize> {
    let mut leases = Vec::new();
    std::thread::scope(|s| {
        s.spawn(|| crate::serve::open_store(cfg, db, crate::serve::Opener::Tool, &mut leases)).join()
    })
    .map_err(|_| anyhow::anyhow!("opening the lease database panicked"))??;
    leases.sort_by_key(|l| l.ip);
    match format {
        ExportFormat::Json => serde_json::to_writer_pretty(&mut *out, &leases)?,
        ExportFormat::KeaCsv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record([
                "address",
                "hwaddr",
                "client_id",
                "valid_lifetime",
                "expire",
                "subnet_id",
                "fqdn_fwd",
                "fqdn_rev",
                "hostname",
                "state",
                "user_context",
            ])?;
            let reverse_zones = cfg.ddns.as_ref().map(|d| d.reverse_zones()).unwrap_or_default();
            let flag = |b: bool| if b { "1" } else { "0" };
            for l in &leases {
                let subnet_id = cfg.subnet.iter().position(|s| s.cidr == l.subnet).map_or(0, |i| i + 1);
                let state = match l.state {
                    LeaseState::Bound | LeaseState::Offered => "0",
                    LeaseState::Declined => "1",
                    LeaseState::Released | LeaseState::Expired => "2",
                };
                w.write_record([
                    l.ip.to_string(),
                    l.hw.to_string(),
                    l.client_id.as_ref().map(|c| c.to_string()).unwrap_or_default(),
                    l.lease_secs.to_string(),
                    l.expires.as_secs().to_string(),
                    subnet_id.to_string(),
                    // Kea keeps the name it registered in `hostname`, and removes its records at the end.
                    flag(l.dns_name.is_some()).into(),
                    flag(l.dns_name.is_some() && crate::ddns::reverse_zone(&reverse_zones, l.ip).is_some()).into(),
                    l.dns_name.as_deref().or(l.hostname.as_deref()).unwrap_or_default().to_string(),
                    state.into(),
                    String::new(),
                ])?;
            }
            w.flush()?;
        }
    }
    writeln!(out)?;
    Ok(leases.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dnsmasq_line_and_a_kea_row_read_as_leases() {
        let d = read_dnsmasq(
            "1900000000 52:54:00:12:34:56 192.0.2.10 laptop 01:52:54:00:12:34:56\n0 52:54:00:00:00:01 192.0.2.11 * *\n",
            "f",
        )
        .unwrap();
        assert_eq!(
            (d[0].ip, d[0].hostname.as_deref(), d[0].expires),
            ("192.0.2.10".parse().unwrap(), Some("laptop"), 1_900_000_000)
        );
        assert!(d[0].client_id.is_some() && d[1].client_id.is_none() && d[1].hostname.is_none());
        let k = read_kea_csv(
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n\
             192.0.2.20,52:54:00:00:00:02,,3600,1900000000,1,0,0,pc,0,\n\
             192.0.2.20,52:54:00:00:00:02,,3600,1900003600,1,1,1,pc.lab.example.,0,\n\
             192.0.2.21,52:54:00:00:00:03,,3600,1900000000,1,0,0,,1,\n",
            "f",
        )
        .unwrap();
        assert_eq!(k.len(), 2, "the last line of an address wins");
        assert_eq!((k[0].expires, k[0].lease_secs, k[1].state), (1_900_003_600, 3600, LeaseState::Declined));
        assert_eq!((k[0].dns_name.as_deref(), k[1].dns_name.as_deref()), (Some("pc.lab.example."), None));
        let e = read_kea_csv("address,hwaddr,client_id,valid_lifetime,expire\nnope,x,,1,2\n", "k.csv").err().unwrap();
        assert_eq!(e.to_string(), "k.csv:2: not an IPv4 address");
    }

    #[test]
    fn a_registered_name_is_kept_only_inside_the_forward_zone() {
        let toml = "[[subnet]]\ncidr = \"192.0.2.0/24\"\npools = [\"192.0.2.10-192.0.2.20\"]\n[ddns]\nserver = \"192.0.2.53:53\"\nforward_zone = \"Lab.Example\"\n";
        let cfg = crate::config_file::parse(toml, "t.toml").unwrap();
        assert_eq!(in_forward_zone(&cfg, "PC.lab.example").as_deref(), Some("pc.lab.example."));
        assert_eq!(in_forward_zone(&cfg, "a.b.lab.example.").as_deref(), Some("a.b.lab.example."));
        assert_eq!(in_forward_zone(&cfg, "pc.otherlab.example."), None);
        assert_eq!(in_forward_zone(&cfg, "lab.example."), None);
        let without = crate::config_file::parse(
            "[[subnet]]\ncidr = \"192.0.2.0/24\"\npools = [\"192.0.2.10-192.0.2.20\"]\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(in_forward_zone(&without, "pc.lab.example."), None, "no [ddns], no names to look after");
    }
}
