//! The operator's route rules: which permission a request to the platform
//! needs, by its method and path, for the gateway's check
//! (`/gateway/check`). A request no rule matches is refused: deny by
//! default.

use super::permissions::Permission;

/// One rule: `POST /v1/deployments/{deployment}/infer` needs
/// `deployments.invoke`; optionally, a segment names the resource's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// Upper case; `None` for any method (`*`).
    pub method: Option<String>,
    pub segments: Vec<Segment>,
    pub permission: Permission,
    /// Which segment of the path names the resource's owner.
    pub owner: Option<usize>,
}

/// A segment of a rule's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `{deployment}`: any one segment.
    Named(String),
}

/// A request a rule matched: the permission it needs, and whose resource
/// it is, where the rule says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub rule: &'a RouteRule,
    pub owner: Option<&'a str>,
}

/// Why a path pattern cannot be one.
pub fn pattern_problem(pattern: &str) -> Option<String> {
    if !pattern.starts_with('/') || pattern.contains("//") || pattern.contains('?') || pattern.len() > 512 {
        return Some(format!(
            "“{}” is not a path pattern: start it with /, without a query, such as /v1/deployments/{{deployment}}",
            pattern.chars().take(64).collect::<String>()
        ));
    }
    let unusable = pattern.split('/').skip(1).any(|part| {
        let named = part.strip_prefix('{').and_then(|rest| rest.strip_suffix('}'));
        match named {
            Some(name) => name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            None => part.contains(['{', '}']) || part == "." || part == "..",
        }
    });
    unusable.then(|| {
        format!(
            "“{}” is not a path pattern: a segment is a word or a {{name}} of letters, digits and underscores",
            pattern.chars().take(64).collect::<String>()
        )
    })
}

/// The segments of a pattern [`pattern_problem`] accepts.
pub fn segments(pattern: &str) -> Vec<Segment> {
    pattern
        .split('/')
        .skip(1)
        .map(
            |part| match part.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
                Some(name) => Segment::Named(name.to_owned()),
                None => Segment::Literal(part.to_owned()),
            },
        )
        .collect()
}

/// The first rule of `rules` that `method` and `path` (without its query)
/// match. A path that could be read two ways (`.` or `..` segments, an
/// encoded slash, an empty segment) matches nothing.
pub fn first_match<'a>(rules: &'a [RouteRule], method: &str, path: &'a str) -> Option<Matched<'a>> {
    let lowered = path.to_ascii_lowercase();
    if !path.starts_with('/') || lowered.contains("%2f") || lowered.contains("%5c") || path.contains('\\') {
        return None;
    }
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    if parts
        .iter()
        .any(|part| part.is_empty() || *part == "." || *part == "..")
        && path != "/"
    {
        return None;
    }
    rules.iter().find_map(|rule| {
        let method_matches = rule
            .method
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method));
        let path_matches = rule.segments.len() == parts.len()
            && rule
                .segments
                .iter()
                .zip(&parts)
                .all(|(segment, part)| match segment {
                    Segment::Literal(literal) => literal == part,
                    Segment::Named(_) => !part.is_empty(),
                });
        (method_matches && path_matches).then(|| Matched {
            rule,
            owner: rule.owner.and_then(|at| parts.get(at).copied()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(method: Option<&str>, pattern: &str, owner: Option<usize>) -> RouteRule {
        RouteRule {
            method: method.map(str::to_owned),
            segments: segments(pattern),
            permission: Permission::Platform(0),
            owner,
        }
    }

    #[test]
    fn a_request_matches_the_first_rule_that_fits_and_nothing_else() {
        let rules = [
            rule(Some("POST"), "/v1/deployments/{deployment}/infer", None),
            rule(None, "/v1/users/{user}/models/{model}", Some(2)),
        ];
        let matched = first_match(&rules, "post", "/v1/deployments/abc/infer").map(|m| m.rule);
        assert_eq!(matched, Some(&rules[0]));
        assert_eq!(first_match(&rules, "GET", "/v1/deployments/abc/infer"), None);
        let owned = first_match(&rules, "DELETE", "/v1/users/u1/models/m1");
        assert_eq!(owned.and_then(|m| m.owner), Some("u1"));
        for sneaky in [
            "/v1/deployments/abc/infer/",
            "/v1/deployments//infer",
            "/v1/deployments/../infer",
            "/v1/deployments/a%2Fb/infer",
            "/v1/deployments/./infer",
            "v1/deployments/abc/infer",
        ] {
            assert_eq!(first_match(&rules, "POST", sneaky), None, "{sneaky}");
        }
        assert!(pattern_problem("/v1/{a-b}").is_some());
        assert!(pattern_problem("v1/x").is_some());
        assert!(pattern_problem("/v1/x?y").is_some());
        assert!(pattern_problem("/v1/{deployment}/infer").is_none());
    }
}
