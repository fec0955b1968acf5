//! What a token may be used from and how often: the client networks (CIDR)
//! it works from, and a service-account key's rate. Both are checked
//! wherever a token is checked: the gateway's check, the token check, the
//! authorize call and Rollcall's own API.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

use super::api_token::SecretKind;

/// The most networks one token may list.
pub const MAX_NETWORKS: usize = 32;

/// The networks a token works from; none listed: anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientNetworks(Box<[IpNet]>);

/// Why a list of networks was refused, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidNetworks {
    #[error(
        "“{0}” is not a network. Write an address (203.0.113.7) or a network in CIDR form (10.0.0.0/8, 2001:db8::/32)."
    )]
    NotANetwork(String),
    #[error("A token may list at most {MAX_NETWORKS} networks.")]
    TooMany,
}

impl ClientNetworks {
    /// Parses networks separated by commas, spaces or new lines. An address
    /// alone is a network of one; a network's host bits are dropped
    /// (10.1.2.3/8 is 10.0.0.0/8), and a network listed twice is kept once.
    pub fn parse(input: &str) -> Result<Self, InvalidNetworks> {
        let mut networks: Vec<IpNet> = Vec::new();
        for part in input
            .split([',', ' ', '\n', '\r', '\t'])
            .filter(|part| !part.is_empty())
        {
            let network = part
                .parse::<IpNet>()
                .map(|network| network.trunc())
                .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                .map(canonical)
                .map_err(|_| InvalidNetworks::NotANetwork(part.chars().take(60).collect()))?;
            if !networks.contains(&network) {
                networks.push(network);
            }
            if networks.len() > MAX_NETWORKS {
                return Err(InvalidNetworks::TooMany);
            }
        }
        Ok(Self(networks.into_boxed_slice()))
    }

    /// Parses a list whose every item is one network (the API's array, the
    /// command line's repeated flag).
    pub fn parse_each<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidNetworks> {
        let mut text = String::new();
        for (at, item) in items.into_iter().enumerate() {
            if at == MAX_NETWORKS {
                return Err(InvalidNetworks::TooMany);
            }
            let item = item.trim();
            if item.is_empty() || item.contains([',', ' ', '\n', '\r', '\t']) {
                return Err(InvalidNetworks::NotANetwork(item.chars().take(60).collect()));
            }
            text.push_str(item);
            text.push(' ');
        }
        Self::parse(&text)
    }

    /// As stored: the networks one space apart; `None` for anywhere.
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.to_string())
    }

    /// From the database, which holds only what [`Self::parse`] made.
    pub fn stored(text: Option<&str>) -> Result<Self, InvalidNetworks> {
        text.map_or(Ok(Self::default()), Self::parse)
    }

    pub fn is_anywhere(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a call from `ip` may use the token. A call whose address is
    /// unknown is refused by a token that lists networks.
    pub fn admit(&self, ip: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = ip.map(|ip| ip.to_canonical()) else {
            return false;
        };
        self.0.iter().any(|network| network.contains(&ip))
    }

    /// Whether a token of these networks works only where one of `outer`
    /// does: every network within one of outer's (anywhere only within
    /// anywhere).
    pub fn within(&self, outer: &ClientNetworks) -> bool {
        outer.is_anywhere()
            || (!self.is_anywhere()
                && self
                    .0
                    .iter()
                    .all(|network| outer.0.iter().any(|around| around.contains(network))))
    }

    pub fn iter(&self) -> impl Iterator<Item = &IpNet> {
        self.0.iter()
    }
}

/// An IPv4 network written as IPv6 (`::ffff:10.0.0.0/104`) as the IPv4 one
/// it is (`10.0.0.0/8`): callers' addresses are compared as IPv4 too.
fn canonical(network: IpNet) -> IpNet {
    match network {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .addr()
            .to_ipv4_mapped()
            .and_then(|v4| ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(network, IpNet::V4),
        other => other,
    }
}

impl fmt::Display for ClientNetworks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, network) in self.0.iter().enumerate() {
            if at > 0 {
                f.write_str(" ")?;
            }
            // A network of one address reads as the address.
            if network.prefix_len() == network.max_prefix_len() {
                write!(f, "{}", network.addr())?;
            } else {
                write!(f, "{network}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for ClientNetworks {
    type Err = InvalidNetworks;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

/// Where a token works from, and how often a key may be used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenLimits {
    pub networks: ClientNetworks,
    /// Service accounts' keys only.
    pub rate: Option<KeyRate>,
}

/// A change of a token's limits: what is `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsChange {
    pub networks: Option<ClientNetworks>,
    /// `Some(None)` takes the rate away.
    pub rate: Option<Option<KeyRate>>,
}

impl From<TokenLimits> for LimitsChange {
    /// Both, in place of what the token had.
    fn from(limits: TokenLimits) -> Self {
        Self {
            networks: Some(limits.networks),
            rate: Some(limits.rate),
        }
    }
}

impl LimitsChange {
    /// The limits after the change.
    pub fn applied_to(&self, before: &TokenLimits) -> TokenLimits {
        TokenLimits {
            networks: self.networks.clone().unwrap_or_else(|| before.networks.clone()),
            rate: self.rate.unwrap_or(before.rate),
        }
    }
}

/// A rate asked of a person's token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("A rate is set on service accounts' keys; a person's token has none")]
pub struct RateOnKeysOnly;

impl TokenLimits {
    /// These limits, if a token of `kind` may have them: only a service
    /// account's key has a rate.
    pub fn for_kind(self, kind: SecretKind) -> Result<Self, RateOnKeysOnly> {
        match (kind, self.rate) {
            (SecretKind::ServiceAccount, _) | (_, None) => Ok(self),
            _ => Err(RateOnKeysOnly),
        }
    }

    /// In words, for lists and the audit log: "from 10.0.0.0/8, 600/min".
    pub fn describe(&self) -> Option<String> {
        let from = (!self.networks.is_anywhere()).then(|| format!("from {}", self.networks));
        let rate = self.rate.map(|rate| rate.to_string());
        match (from, rate) {
            (None, None) => None,
            (Some(from), None) => Some(from),
            (None, Some(rate)) => Some(rate),
            (Some(from), Some(rate)) => Some(format!("{from}, {rate}")),
        }
    }
}

/// How many calls a service-account key may make per second, minute or
/// hour, on each server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRate {
    calls: NonZeroU32,
    per: RatePeriod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RatePeriod {
    Second,
    Minute,
    Hour,
}

impl RatePeriod {
    fn duration(self) -> Duration {
        match self {
            RatePeriod::Second => Duration::from_secs(1),
            RatePeriod::Minute => Duration::from_secs(60),
            RatePeriod::Hour => Duration::from_secs(3600),
        }
    }

    fn name(self) -> &'static str {
        match self {
            RatePeriod::Second => "s",
            RatePeriod::Minute => "min",
            RatePeriod::Hour => "h",
        }
    }
}

/// The most calls a rate may allow in its period.
const MAX_CALLS: u32 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "“{0}” is not a rate. Write a number of calls per second, minute or hour, from 1 to 1,000,000: 600/min, 10/s, 5000/h."
)]
pub struct InvalidRate(String);

impl KeyRate {
    /// Parses `600/min`, `10/s`, `5000/h` (also `/sec`, `/second`, `/minute`,
    /// `/hour`, and spaces around the slash).
    pub fn parse(input: &str) -> Result<Self, InvalidRate> {
        let invalid = || InvalidRate(input.trim().chars().take(40).collect());
        let (calls, per) = input.trim().split_once('/').ok_or_else(invalid)?;
        let calls = calls
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|calls| *calls <= MAX_CALLS)
            .and_then(NonZeroU32::new)
            .ok_or_else(invalid)?;
        let per = match per.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => RatePeriod::Second,
            "m" | "min" | "minute" => RatePeriod::Minute,
            "h" | "hr" | "hour" => RatePeriod::Hour,
            _ => return Err(invalid()),
        };
        Ok(Self { calls, per })
    }

    /// A rate as a form field holds it: blank for none.
    pub fn parse_optional(input: &str) -> Result<Option<Self>, InvalidRate> {
        let input = input.trim();
        (!input.is_empty()).then(|| Self::parse(input)).transpose()
    }

    pub fn calls(self) -> NonZeroU32 {
        self.calls
    }

    pub fn period(self) -> Duration {
        self.per.duration()
    }
}

impl fmt::Display for KeyRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.calls, self.per.name())
    }
}

impl FromStr for KeyRate {
    type Err = InvalidRate;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_read_as_typed_and_admit_only_their_addresses() {
        let networks =
            ClientNetworks::parse("10.1.2.3/8, 203.0.113.7\n2001:db8::/32 10.0.0.0/8").expect("valid");
        assert_eq!(networks.to_string(), "10.0.0.0/8 203.0.113.7 2001:db8::/32");
        assert!(networks.admit("10.200.0.1".parse().ok()));
        assert!(networks.admit("203.0.113.7".parse().ok()));
        assert!(networks.admit("::ffff:10.0.0.1".parse().ok()));
        assert!(networks.admit("2001:db8::1".parse().ok()));
        assert!(!networks.admit("203.0.113.8".parse().ok()));
        assert!(!networks.admit("11.0.0.1".parse().ok()));
        assert!(!networks.admit(None));
        let office = ClientNetworks::parse("10.1.0.0/16 203.0.113.7").expect("valid");
        assert!(office.within(&networks) && office.within(&ClientNetworks::default()));
        assert!(!ClientNetworks::default().within(&networks));
        assert!(
            !ClientNetworks::parse("11.0.0.0/8")
                .expect("valid")
                .within(&networks)
        );
        let mapped = ClientNetworks::parse("::ffff:192.0.2.0/120, ::ffff:198.51.100.7").expect("valid");
        assert_eq!(mapped.to_string(), "192.0.2.0/24 198.51.100.7");
        assert!(mapped.admit("192.0.2.9".parse().ok()));
        assert!(ClientNetworks::parse("  ").expect("empty").admit(None));
        assert_eq!(
            ClientNetworks::parse_each(["10.0.0.0/8", "203.0.113.7"]).map(|networks| networks.to_string()),
            Ok("10.0.0.0/8 203.0.113.7".to_owned())
        );
        assert!(ClientNetworks::parse_each(["10.0.0.0/8,11.0.0.0/8"]).is_err());
        assert!(ClientNetworks::parse_each([""]).is_err());
        assert_eq!(
            ClientNetworks::parse(&networks.to_stored().expect("listed")),
            Ok(networks)
        );
    }

    #[test]
    fn bad_networks_are_refused_with_what_was_typed() {
        for bad in ["10.0.0.0/33", "example.com", "10.0.0", "<b>", "1.2.3.4/"] {
            assert!(
                matches!(ClientNetworks::parse(bad), Err(InvalidNetworks::NotANetwork(_))),
                "{bad}"
            );
        }
        let many = (0..40)
            .map(|at| format!("10.0.{at}.0/24"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(ClientNetworks::parse(&many), Err(InvalidNetworks::TooMany));
    }

    #[test]
    fn rates_read_in_seconds_minutes_and_hours() {
        let rate = KeyRate::parse(" 600 / min ").expect("valid");
        assert_eq!(rate.to_string(), "600/min");
        assert_eq!(rate.period(), Duration::from_secs(60));
        assert_eq!(
            KeyRate::parse("10/second").map(|rate| rate.to_string()),
            Ok("10/s".to_owned())
        );
        assert_eq!(
            KeyRate::parse("5000/HOUR").map(|rate| rate.to_string()),
            Ok("5000/h".to_owned())
        );
        for bad in ["0/min", "600", "-1/min", "600/day", "1000001/s", "ten/min", ""] {
            assert!(KeyRate::parse(bad).is_err(), "{bad}");
        }
    }
}
