//! What the server answers while its lease store is down. Nothing new can be made durable, so nothing new
//! is promised: a REQUEST for a new binding gets no answer (the client asks again, and is served once the
//! store is back). A bound client renewing its lease (RENEWING or REBINDING: ciaddr, no server id, no
//! requested address, RFC 2131 §4.3.2) is ACKed for the rest of the lease already stored, not a second
//! more: RFC 2131 §4.4.5 lets the server choose the lease time, and every promise stays within what the
//! store holds, so no other server sharing it can give the address away while this client uses it.

use super::{Outcome, Server};
use crate::lease::{ClientKeyRef, LeaseState};
use crate::message::DhcpMessage;
use crate::packet::{DropReason, Dropped, Request};
use crate::reply::LeaseTimes;
use crate::server::RecvMeta;
use crate::time::Instant;
use dhcproto::v4::MessageType;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

impl Server {
    /// The lease store is down (`Some`) or back (`None`). `unconfirmed` are the addresses whose latest
    /// change the store may not have: their records in the table are not known to be durable, so they
    /// are not renewed either.
    pub fn set_store_down(&mut self, unconfirmed: Option<BTreeSet<Ipv4Addr>>) {
        self.store_down = unconfirmed;
    }

    pub fn is_store_down(&self) -> bool {
        self.store_down.is_some()
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn answer_while_store_down(
        &mut self,
        now: Instant,
        meta: &RecvMeta,
        req: &Request,
        si: usize,
        ip: Ipv4Addr,
        key: ClientKeyRef<'_>,
        unconfirmed: bool,
    ) -> Result<Outcome, Dropped> {
        let renewing = req.server_id.is_none() && req.requested_ip.is_none() && !req.header.ciaddr.is_unspecified();
        let stored = self.table.get(ip).filter(|l| {
            renewing && !unconfirmed && l.is_client(key) && l.state == LeaseState::Bound && l.expires > now
        });
        let Some(lease) = stored else {
            return Err(Dropped::new(DropReason::StoreDown, format!("the lease store is down: no new lease for {ip}")));
        };
        let left = lease.expires - now;
        let s = &self.subnets[si];
        let (t1, t2) = s.timers(left);
        let times = LeaseTimes { lease: left, t1, t2 };
        let m = self.membership(si, req);
        let bytes = self.reply_to(req, MessageType::Ack, ip, meta.local_addr, si, Some(times), None, &m)?;
        self.reply_needs_store = false;
        Ok(Outcome::Reply(bytes, DhcpMessage::Ack, ip))
    }
}
