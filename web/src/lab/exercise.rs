//! Exercises: a scenario that stops before chosen packets and asks the student to predict them — which
//! message, from whom, broadcast or unicast, which fields it fills in — and, where a teacher wrote one, why. Answers are scored
//! against the simulator's own packet, then the packet is shown and told. Plain Rust, tested natively;
//! shared by URL (`#x=first-lease`).

use dhcplab_engine::event::PacketSummary;
use dhcplab_engine::message::DhcpMessage;
use dhcplab_engine::sim::{NodeId, NodeKind, Sim, TraceEntry, TraceKind};

/// The fields a student says a packet fills in (set, not zero): the header addresses, the broadcast flag
/// and the options that change along an exchange. Their names are the RFC's.
pub const FIELDS: [&str; 8] = [
    "ciaddr",
    "yiaddr",
    "siaddr",
    "giaddr",
    "broadcast flag",
    "option 50 (requested IP)",
    "option 54 (server id)",
    "option 51 (lease time)",
];

/// The fields `s` fills in, one bit per entry of [`FIELDS`].
pub fn carried(s: &PacketSummary) -> u8 {
    let set = [
        !s.ciaddr.is_unspecified(),
        !s.yiaddr.is_unspecified(),
        !s.siaddr.is_unspecified(),
        !s.giaddr.is_unspecified(),
        s.broadcast_flag,
        s.requested_ip.is_some(),
        s.server_id.is_some(),
        s.lease_secs.is_some(),
    ];
    set.iter().enumerate().fold(0, |m, (i, &on)| m | (u8::from(on) << i))
}

/// A sentence in both languages, written here.
pub type Words = (&'static str, &'static str);

/// A multiple-choice question about one packet.
pub struct Why {
    pub question: Words,
    pub choices: &'static [Words],
    /// Which choice is right.
    pub right: usize,
}

pub struct Exercise {
    pub id: &'static str,
    pub scenario: &'static str,
    pub title: Words,
    pub intro: Words,
    /// The packets (0 = the scenario's first packet) the student predicts.
    pub ask: &'static [usize],
    /// Authored questions, by packet.
    pub why: &'static [(usize, Why)],
}

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "first-lease",
        scenario: "dora",
        title: ("First lease: predict the DORA", "第一个租约：预测 DORA"),
        intro: (
            "A laptop with no address is switched on. Before each packet, say which message comes, who sends it, and whether it is broadcast.",
            "一台没有地址的笔记本电脑开机了。每个报文出现之前，请说出是哪种消息、谁发送、是否广播。",
        ),
        ask: &[0, 1, 2, 3],
        why: &[
            (
                1,
                Why {
                    question: (
                        "Why can this OFFER go to the laptop's own MAC address, not to everyone?",
                        "为什么这个 OFFER 可以直接发往笔记本电脑自己的 MAC 地址，而不是发给所有人？",
                    ),
                    choices: &[
                        (
                            "The server learned the laptop's IP address from ARP.",
                            "服务器已通过 ARP 得知笔记本电脑的 IP 地址。",
                        ),
                        (
                            "The DISCOVER carried the laptop's MAC (chaddr), and the laptop did not ask for a broadcast reply.",
                            "DISCOVER 中带有笔记本电脑的 MAC（chaddr），而且笔记本电脑没有要求广播应答。",
                        ),
                        ("OFFERs are always unicast.", "OFFER 总是单播。"),
                    ],
                    right: 1,
                },
            ),
            (
                2,
                Why {
                    question: (
                        "The laptop knows the server now. Why is its REQUEST still broadcast?",
                        "笔记本电脑现在已经知道服务器了。为什么它的 REQUEST 仍然是广播？",
                    ),
                    choices: &[
                        (
                            "So that every server that offered learns which offer was taken, and the others free theirs.",
                            "让每台提供过地址的服务器知道哪个提议被接受，其他服务器释放自己的地址。",
                        ),
                        ("Because the server's MAC address is unknown.", "因为不知道服务器的 MAC 地址。"),
                        (
                            "Because the lease is not recorded until every host has seen it.",
                            "因为在所有主机看到之前租约不会被记录。",
                        ),
                    ],
                    right: 0,
                },
            ),
        ],
    },
    Exercise {
        id: "two-servers",
        scenario: "two-servers",
        title: ("Two servers: who wins?", "两台服务器：谁胜出？"),
        intro: (
            "Two servers share the link. Predict each packet, then say what the losing server does.",
            "链路上有两台服务器。预测每个报文，然后说出落选的服务器会做什么。",
        ),
        ask: &[0, 1, 2, 3, 4],
        why: &[(
            3,
            Why {
                question: (
                    "This REQUEST names server-a. What does server-b do when it hears it?",
                    "这个 REQUEST 指明了 server-a。server-b 听到后会做什么？",
                ),
                choices: &[
                    ("It sends a NAK to stop the client.", "它发送 NAK 阻止客户端。"),
                    ("It ACKs too, so the client has two addresses.", "它也发送 ACK，于是客户端有两个地址。"),
                    (
                        "Nothing on the wire: it frees the address it had offered.",
                        "线路上什么也不发：它释放自己提供过的地址。",
                    ),
                ],
                right: 2,
            },
        )],
    },
    Exercise {
        id: "moved-subnet",
        scenario: "moved-subnet",
        title: ("Moved to another subnet", "换到另一个子网"),
        intro: (
            "The laptop has a lease on one network and is carried to another. Predict what happens when it wakes up there.",
            "笔记本电脑在一个网络上有租约，然后被带到另一个网络。预测它在那里醒来后会发生什么。",
        ),
        ask: &[4, 5, 6],
        why: &[
            (
                5,
                Why {
                    question: (
                        "Why does the server refuse the laptop's REQUEST?",
                        "为什么服务器拒绝笔记本电脑的 REQUEST？",
                    ),
                    choices: &[
                        ("The address it asks for is not on this network.", "它请求的地址不在这个网络上。"),
                        ("The server has no addresses left.", "服务器已经没有可用地址。"),
                        ("The laptop's lease ran out an hour ago.", "笔记本电脑的租约一小时前就到期了。"),
                    ],
                    right: 0,
                },
            ),
            (
                6,
                Why {
                    question: ("What must the laptop do after a NAK?", "收到 NAK 后笔记本电脑必须做什么？"),
                    choices: &[
                        ("Keep its old address until the lease ends.", "在租约结束前继续使用旧地址。"),
                        ("Start again with DISCOVER.", "重新从 DISCOVER 开始。"),
                        ("Ask again for the same address.", "再次请求同一个地址。"),
                    ],
                    right: 1,
                },
            ),
        ],
    },
    Exercise {
        id: "no-server",
        scenario: "no-server",
        title: ("No server: 169.254 and after", "没有服务器：169.254 及之后"),
        intro: (
            "The laptop boots where no DHCP server answers, and one comes later. Predict the packets at the key moments.",
            "笔记本电脑在没有 DHCP 服务器应答的地方启动，之后服务器才出现。预测关键时刻的报文。",
        ),
        ask: &[0, 1, 4, 13, 14],
        why: &[(
            4,
            Why {
                question: (
                    "Five minutes later the laptop uses a 169.254 address. Why does it send a DISCOVER again?",
                    "五分钟后笔记本电脑正在使用 169.254 地址。为什么它又发送 DISCOVER？",
                ),
                choices: &[
                    (
                        "169.254 is only a stopgap: it keeps looking for a server, every five minutes.",
                        "169.254 只是权宜之计：它每五分钟继续寻找服务器。",
                    ),
                    ("Its 169.254 address expired.", "它的 169.254 地址到期了。"),
                    ("Another host took its 169.254 address.", "另一台主机占用了它的 169.254 地址。"),
                ],
                right: 0,
            },
        )],
    },
    Exercise {
        id: "renewal",
        scenario: "renew-rebind",
        title: ("Renewal at T1, rebinding at T2", "T1 续租，T2 重新绑定"),
        intro: (
            "The laptop holds a one-hour lease. Predict its messages when half the lease has passed, when the server stops answering, and when the lease runs out.",
            "笔记本电脑有一个一小时的租约。预测租期过半时、服务器不再应答时以及租约到期时它发送的报文。",
        ),
        ask: &[4, 5, 6, 12, 16],
        why: &[
            (
                4,
                Why {
                    question: (
                        "Why is this REQUEST unicast to 192.168.1.240?",
                        "为什么这个 REQUEST 单播发往 192.168.1.240？",
                    ),
                    choices: &[
                        ("The server asked the laptop to renew.", "服务器要求笔记本电脑续租。"),
                        (
                            "At T1 the client renews with the server that gave the lease; it has an address, so it can use unicast.",
                            "到达 T1 时客户端向原服务器续租；它有地址，所以可以单播。",
                        ),
                        ("Broadcasts are not allowed once a client is bound.", "客户端绑定后不允许广播。"),
                    ],
                    right: 1,
                },
            ),
            (
                12,
                Why {
                    question: ("Why is the REQUEST broadcast now?", "为什么现在 REQUEST 改为广播？"),
                    choices: &[
                        (
                            "The server did not answer by T2, so the client asks any server (REBINDING).",
                            "到 T2 原服务器仍未应答，所以客户端询问任何服务器（REBINDING）。",
                        ),
                        ("The client forgot the server's address.", "客户端忘记了服务器的地址。"),
                        ("The lease has already expired.", "租约已经到期了。"),
                    ],
                    right: 0,
                },
            ),
            (
                16,
                Why {
                    question: ("Why a DISCOVER now?", "为什么现在发送 DISCOVER？"),
                    choices: &[
                        ("The client wants a second address.", "客户端想要第二个地址。"),
                        ("The server told it to start over.", "服务器让它重新开始。"),
                        (
                            "The lease ran out: the client must stop using the address and start again from INIT.",
                            "租约到期：客户端必须停止使用该地址，从 INIT 重新开始。",
                        ),
                    ],
                    right: 2,
                },
            ),
        ],
    },
];

/// A second exercise for each seed story, on another of its points.
pub const MORE: &[Exercise] = &[
    Exercise {
        id: "first-lease-check",
        scenario: "dora",
        title: ("First lease: the ACK and after", "第一个租约：ACK 之后"),
        intro: (
            "The server has offered and the laptop has asked. Predict the ACK, then say what the laptop does before it uses the address.",
            "服务器已经提供地址，笔记本电脑也已请求。预测 ACK，然后说出笔记本电脑在使用该地址前会做什么。",
        ),
        ask: &[2, 3],
        why: &[(
            3,
            Why {
                question: (
                    "What does the laptop do right after this ACK, before it uses the address?",
                    "收到这个 ACK 之后、使用地址之前，笔记本电脑会做什么？",
                ),
                choices: &[
                    ("It sends a RELEASE to confirm.", "它发送 RELEASE 进行确认。"),
                    ("It waits for T1.", "它等到 T1。"),
                    (
                        "It asks with ARP whether another host already uses the address (RFC 2131 §2.2).",
                        "它用 ARP 询问是否已有其他主机在使用该地址（RFC 2131 §2.2）。",
                    ),
                ],
                right: 2,
            },
        )],
    },
    Exercise {
        id: "two-offers",
        scenario: "two-servers",
        title: ("Two servers: two offers", "两台服务器：两个提议"),
        intro: ("One DISCOVER, two servers. Predict both OFFERs.", "一个 DISCOVER，两台服务器。预测两个 OFFER。"),
        ask: &[1, 2],
        why: &[(
            2,
            Why {
                question: ("Why do the two OFFERs carry different addresses?", "为什么两个 OFFER 中的地址不同？"),
                choices: &[
                    ("Each server hands out addresses from its own pool.", "每台服务器从自己的地址池分配地址。"),
                    (
                        "The second server saw the first offer and avoided it.",
                        "第二台服务器看到了第一个提议并避开了它。",
                    ),
                    ("The laptop asked for two addresses.", "笔记本电脑请求了两个地址。"),
                ],
                right: 0,
            },
        )],
    },
    Exercise {
        id: "init-reboot",
        scenario: "moved-subnet",
        title: ("Waking up: INIT-REBOOT", "醒来：INIT-REBOOT"),
        intro: (
            "The laptop wakes on a network it does not know it has moved to. Predict its first message there.",
            "笔记本电脑在一个新网络上醒来，但它并不知道自己换了网络。预测它在那里的第一个报文。",
        ),
        ask: &[4],
        why: &[(
            4,
            Why {
                question: (
                    "Why does this REQUEST name no server and carry ciaddr 0.0.0.0?",
                    "为什么这个 REQUEST 不指明服务器，ciaddr 也是 0.0.0.0？",
                ),
                choices: &[
                    ("The laptop lost its lease file.", "笔记本电脑丢失了租约文件。"),
                    (
                        "It is INIT-REBOOT: it asks any server that knows this network to confirm the address it remembers (RFC 2131 §3.2).",
                        "这是 INIT-REBOOT：它请求任何了解本网络的服务器确认它记得的地址（RFC 2131 §3.2）。",
                    ),
                    ("It is renewing at T1.", "它在 T1 续租。"),
                ],
                right: 1,
            },
        )],
    },
    Exercise {
        id: "server-comes",
        scenario: "no-server",
        title: ("No server: when one comes", "没有服务器：服务器出现时"),
        intro: (
            "After fifteen minutes on 169.254, a server is switched on. Predict the exchange that follows.",
            "使用 169.254 地址十五分钟后，一台服务器开机了。预测接下来的交换。",
        ),
        ask: &[12, 13, 14, 15],
        why: &[(
            15,
            Why {
                question: (
                    "What happens to the 169.254 address once the laptop is bound?",
                    "笔记本电脑绑定地址之后，169.254 地址会怎样？",
                ),
                choices: &[
                    ("It is kept beside the leased one.", "它与租到的地址并存。"),
                    ("It is kept until the next reboot.", "它一直保留到下次重启。"),
                    ("It is dropped: the leased address replaces it.", "它被放弃：租到的地址取代了它。"),
                ],
                right: 2,
            },
        )],
    },
    Exercise {
        id: "renewal-t1",
        scenario: "renew-rebind",
        title: ("Renewal at T1: the new lease", "T1 续租：新的租约"),
        intro: (
            "Half of the one-hour lease has passed. Predict the renewal and its answer.",
            "一小时租期已过一半。预测续租请求和它的应答。",
        ),
        ask: &[4, 5],
        why: &[(
            5,
            Why {
                question: ("From when does the renewed lease count?", "续租后的租期从什么时候开始计算？"),
                choices: &[
                    ("From the first ACK, half an hour ago.", "从半小时前的第一个 ACK 开始。"),
                    (
                        "From when the laptop sent this REQUEST (RFC 2131 §4.4.5).",
                        "从笔记本电脑发送这个 REQUEST 时开始（RFC 2131 §4.4.5）。",
                    ),
                    ("From T2.", "从 T2 开始。"),
                ],
                right: 1,
            },
        )],
    },
];

/// Every exercise: the first of each seed story, then the second.
pub fn all() -> impl Iterator<Item = &'static Exercise> {
    EXERCISES.iter().chain(MORE)
}

pub fn find(id: &str) -> Option<&'static Exercise> {
    all().find(|x| x.id == id)
}

/// What a packet is, as the student predicts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    pub msg: DhcpMessage,
    pub from: NodeId,
    pub broadcast: bool,
    /// The fields it fills in ([`carried`]).
    pub fields: u8,
}

/// The student's answer; a part left out counts as wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answer {
    pub msg: Option<DhcpMessage>,
    pub from: Option<NodeId>,
    pub broadcast: Option<bool>,
    pub fields: Option<u8>,
    pub why: Option<usize>,
}

/// A question on screen: the packet it is about, and who could send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub ordinal: usize,
    /// The nodes that could send it (hosts, servers and relays), as (id, name).
    pub senders: Vec<(NodeId, String)>,
    pub why: Option<usize>,
    right: Prediction,
}

/// An answer marked: each part right or wrong, with the right answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub ordinal: usize,
    pub right: Prediction,
    pub given: Answer,
    pub msg_ok: bool,
    pub from_ok: bool,
    pub to_ok: bool,
    pub fields_ok: bool,
    /// The authored question's index in `why`, and whether it was answered right.
    pub why: Option<(usize, bool)>,
}

impl Marked {
    /// Points scored, and points possible.
    pub fn points(&self) -> (u32, u32) {
        let parts =
            [self.msg_ok, self.from_ok, self.to_ok, self.fields_ok].into_iter().chain(self.why.map(|(_, ok)| ok));
        parts.fold((0, 0), |(got, of), ok| (got + u32::from(ok), of + 1))
    }
}

/// An exercise being done.
pub struct Run {
    pub def: &'static Exercise,
    pub question: Option<Question>,
    pub marked: Vec<Marked>,
}

impl Run {
    pub fn new(def: &'static Exercise) -> Self {
        Run { def, question: None, marked: vec![] }
    }

    /// Points so far, and points possible so far.
    pub fn score(&self) -> (u32, u32) {
        self.marked.iter().map(Marked::points).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    /// Whether every question has been answered.
    pub fn done(&self) -> bool {
        self.marked.len() == self.def.ask.len()
    }

    /// Called before `entry` (the `ordinal`-th packet) is shown: true if the student must first predict
    /// it, and the question is then on screen.
    pub fn stops_before(&mut self, sim: &Sim, entry: &TraceEntry, ordinal: usize) -> bool {
        let TraceKind::Packet { summary, frame, .. } = &entry.kind else { return false };
        if !self.def.ask.contains(&ordinal) || self.marked.iter().any(|m| m.ordinal == ordinal) {
            return false;
        }
        let senders = sim
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.removed && !matches!(n.kind, NodeKind::Database { .. }))
            .map(|(i, n)| (i, n.name.clone()))
            .collect();
        let right = Prediction {
            msg: summary.msg,
            from: entry.node,
            broadcast: frame.dst.ip().is_broadcast(),
            fields: carried(summary),
        };
        let why = self.def.why.iter().position(|(at, _)| *at == ordinal);
        self.question = Some(Question { ordinal, senders, why, right });
        true
    }

    /// Marks the answer to the question on screen; false if there is none.
    pub fn answer(&mut self, a: Answer) -> bool {
        let Some(q) = self.question.take() else { return false };
        let why = q.why.map(|i| (i, a.why == Some(self.def.why[i].1.right)));
        self.marked.push(Marked {
            ordinal: q.ordinal,
            right: q.right,
            given: a,
            msg_ok: a.msg == Some(q.right.msg),
            from_ok: a.from == Some(q.right.from),
            to_ok: a.broadcast == Some(q.right.broadcast),
            fields_ok: a.fields == Some(q.right.fields),
            why,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::model::{LabAction, LabModel, exercise_in_hash};
    use crate::shared::Model;
    use dhcplab_engine::sim::scenario;

    /// Steps until the exercise asks, or the scenario ends; returns the question.
    fn next_question(lab: &mut LabModel) -> Option<Question> {
        while lab.step() {}
        lab.exercise.as_ref().and_then(|r| r.question.clone())
    }

    #[test]
    fn every_exercise_asks_about_packets_its_scenario_has_and_its_whys_are_well_formed() {
        for x in all() {
            let mut s = scenario::build(x.scenario, 1).unwrap_or_else(|| panic!("{}: no scenario", x.id));
            s.run();
            let packets = s.sim.trace().iter().filter(|e| matches!(e.kind, TraceKind::Packet { .. })).count();
            assert!(x.ask.iter().all(|&a| a < packets), "{}: asks past its {packets} packets", x.id);
            for (at, w) in x.why {
                assert!(x.ask.contains(at), "{}: a why at an unasked packet {at}", x.id);
                assert!(w.right < w.choices.len() && w.choices.len() >= 3, "{}", x.id);
            }
            for text in [x.title, x.intro]
                .into_iter()
                .chain(x.why.iter().flat_map(|(_, w)| std::iter::once(w.question).chain(w.choices.iter().copied())))
            {
                assert!(
                    !text.0.is_empty() && text.1.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                    "{}: {text:?}",
                    x.id
                );
            }
        }
        // Two for each seed story.
        for story in ["dora", "two-servers", "moved-subnet", "no-server", "renew-rebind"] {
            assert_eq!(all().filter(|x| x.scenario == story).count(), 2, "{story}");
        }
    }

    #[test]
    fn an_exercise_stops_before_each_asked_packet_and_scores_the_prediction() {
        let def = find("first-lease").unwrap();
        let mut lab = LabModel::with_exercise(def);
        assert_eq!(lab.hash(), "#x=first-lease");
        assert_eq!(exercise_in_hash("#x=first-lease").map(|x| x.id), Some("first-lease"));
        let server = lab.scenario.sim.nodes.iter().position(|n| n.name == "dhcp-server").unwrap();
        let laptop = lab.scenario.client;
        // Before the DISCOVER: nothing of it is on screen yet, and stepping stays put.
        let q = next_question(&mut lab).expect("asks before the first packet");
        assert_eq!(q.ordinal, 0);
        assert!(!lab.visible().iter().any(|e| matches!(e.kind, TraceKind::Packet { .. })));
        let shown = lab.shown;
        assert!(!lab.step());
        assert_eq!(lab.shown, shown, "no step past a question");
        // All right.
        lab.update(LabAction::Answer(Answer {
            msg: Some(DhcpMessage::Discover),
            from: Some(laptop),
            broadcast: Some(true),
            fields: Some(0),
            why: None,
        }));
        let run = lab.exercise.as_ref().unwrap();
        assert_eq!(run.score(), (4, 4));
        let sel = lab.selected_entry().expect("the predicted packet is shown and selected");
        assert!(matches!(&sel.kind, TraceKind::Packet { summary, .. } if summary.msg == DhcpMessage::Discover));
        // The OFFER: the wrong sender, the wrong way, the wrong why.
        let q = next_question(&mut lab).unwrap();
        assert_eq!((q.ordinal, q.why), (1, Some(0)));
        assert!(q.senders.iter().any(|(id, _)| *id == server));
        // The OFFER fills in yiaddr, the server identifier and the lease time.
        let offer_fields = 0b1100_0010;
        lab.update(LabAction::Answer(Answer {
            msg: Some(DhcpMessage::Offer),
            from: Some(laptop),
            broadcast: Some(true),
            fields: Some(offer_fields),
            why: Some(0),
        }));
        let last = lab.exercise.as_ref().unwrap().marked.last().unwrap().clone();
        assert_eq!((last.msg_ok, last.from_ok, last.to_ok, last.fields_ok), (true, false, false, true));
        assert_eq!(last.why, Some((0, false)));
        let right = Prediction { msg: DhcpMessage::Offer, from: server, broadcast: false, fields: offer_fields };
        assert_eq!(last.right, right);
        assert_eq!(lab.exercise.as_ref().unwrap().score(), (6, 9));
        // An empty answer is all wrong; the remaining two questions, then the end.
        for _ in 0..2 {
            next_question(&mut lab).unwrap();
            lab.update(LabAction::Answer(Answer::default()));
        }
        assert!(next_question(&mut lab).is_none());
        let run = lab.exercise.as_ref().unwrap();
        assert!(run.done());
        assert_eq!(run.score(), (6, 18));
        // Reset starts it over; another scenario ends it.
        lab.update(LabAction::Reset);
        assert_eq!(lab.exercise.as_ref().unwrap().score(), (0, 0));
        lab.update(LabAction::SetScenario("relay".into()));
        assert!(lab.exercise.is_none());
    }
}
