//! Subnet bars (amber from 80 %, red from 90 %) and the activity charts.

use super::model;
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::server::SubnetUsage;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub subnets: Vec<SubnetUsage>,
    /// Packets per second, one point per stats message.
    pub rates: Vec<f64>,
    /// Bound leases, one point per stats message.
    pub bound: Vec<f64>,
}

fn sparkline(points: &[f64], color: &str) -> Html {
    let max = points.iter().cloned().fold(1.0_f64, f64::max);
    let n = points.len().max(2) as f64;
    let path: String = points
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                i as f64 * 300.0 / (n - 1.0),
                58.0 - v / max * 54.0
            )
        })
        .collect();
    html! { <svg class="spark" viewBox="0 0 300 60" preserveAspectRatio="none"><path d={path} stroke={color.to_string()} /></svg> }
}

#[component]
pub fn SubnetsCard(p: &Props) -> Html {
    let lang = p.lang;
    html! {
        <section class="card">
            // A watched link has no configured subnets: only the activity is shown.
            if !p.subnets.is_empty() { <h2>{t(lang, Key::Subnets)}</h2> }
            { for p.subnets.iter().map(|s| {
                let model::Utilization { used, percent, level } = model::utilization(s);
                let level = level.as_str();
                html! {
                    <div class="util" data-testid="subnet-util" data-cidr={s.cidr.to_string()} data-level={level}>
                        <div class="utilhead"><b>{s.cidr.to_string()}</b><span>{format!("{used}/{} ({percent:.0}%)", s.pool_size)}</span></div>
                        <div class="bar"><div class={classes!("fill", level)} style={format!("width:{percent:.1}%")}></div></div>
                    </div>
                }
            }) }
            <h2>{t(lang, Key::Rates)}</h2>
            <div class="charts">
                <div><span class="muted">{t(lang, Key::PktRate)}</span>{ sparkline(&p.rates, "#3d8bfd") }</div>
                <div><span class="muted">{t(lang, Key::BoundCount)}</span>{ sparkline(&p.bound, "#1f9d55") }</div>
            </div>
        </section>
    }
}
