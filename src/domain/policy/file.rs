//! The operator's policy file (`ROLLCALL_POLICY_FILE`), read from its text:
//! the platform's permissions, and the roles below Owner, highest first,
//! with what each holds. Everything in it
//! is checked before the server starts, and the first problem is named with
//! its line.
//!
//! ```toml
//! [[permissions]]
//! name = "deployments.create"
//! description = "Create, terminate, restore and delete deployments"
//! over_others = "deployments.manage_others"   # optional
//! inference = false                           # optional
//!
//! [[roles]]
//! name = "developer"                          # label = "Developer" unless given
//! default = true                              # the role invitations offer first
//! permissions = ["members.view", "tokens.create_operations", "deployments.create"]
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use super::catalog::{MAX_ROLES, PermissionDef, Policy, RoleDef};
use super::permissions::{MAX_PLATFORM_PERMISSIONS, OWN, Permission, PermissionSet};
use super::routes::{RouteRule, Segment, pattern_problem, segments};
use crate::domain::role::Role;
use crate::domain::text::has_control;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyText {
    #[serde(default)]
    permissions: Vec<PermissionText>,
    #[serde(default)]
    roles: Vec<RoleText>,
    #[serde(default)]
    routes: Vec<RouteText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteText {
    /// `GET`, `POST`… or `*` for any.
    method: Spanned<String>,
    path: Spanned<String>,
    permission: Spanned<String>,
    /// The name of the path's segment that names the resource's owner.
    owner: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionText {
    name: Spanned<String>,
    description: Spanned<String>,
    verb: Option<Spanned<String>>,
    over_others: Option<Spanned<String>>,
    #[serde(default)]
    inference: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleText {
    name: Spanned<String>,
    label: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    /// The role an invitation offers first.
    #[serde(default)]
    default: bool,
    permissions: Vec<Spanned<String>>,
}

/// What is wrong with a policy file, and on which line, if one line says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFileError {
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.problem),
            None => f.write_str(&self.problem),
        }
    }
}

/// Reads a policy from the text of its file; `source` names the file.
pub fn parse_policy(text: &str, source: &str) -> Result<Policy, PolicyFileError> {
    let line_of = |at: usize| {
        text.get(..at)
            .map_or(1, |before| before.matches('\n').count() + 1)
    };
    let refuse = |at: usize, problem: String| PolicyFileError {
        line: Some(line_of(at)),
        problem,
    };
    let parsed: PolicyText = toml::from_str(text).map_err(|error| PolicyFileError {
        line: error.span().map(|span| line_of(span.start)),
        problem: error.message().trim_end_matches('\n').replace('\n', " "),
    })?;
    if parsed.permissions.len() > MAX_PLATFORM_PERMISSIONS {
        return Err(refuse(
            parsed.permissions[MAX_PLATFORM_PERMISSIONS].name.span().start,
            format!("a policy has at most {MAX_PLATFORM_PERMISSIONS} permissions of the platform"),
        ));
    }
    let mut permissions: Vec<PermissionDef> = Policy::default().permissions()[..OWN.len()].to_vec();
    let mut declared_at: HashMap<String, usize> = HashMap::new();
    for (index, entry) in parsed.permissions.iter().enumerate() {
        let name = entry.name.get_ref();
        let at = entry.name.span().start;
        if let Some(problem) = name_problem(name) {
            return Err(refuse(at, problem));
        }
        if OWN.iter().any(|own| own.name == name) {
            return Err(refuse(
                at,
                format!(
                    "“{name}” is one of Rollcall’s own permissions; the platform’s need names of their own"
                ),
            ));
        }
        if let Some(first) = declared_at.insert(name.clone(), at) {
            return Err(refuse(
                at,
                format!(
                    "the permission “{name}” is declared twice (first on line {})",
                    line_of(first)
                ),
            ));
        }
        let description = words(&entry.description, "description", 200)
            .map_err(|problem| refuse(entry.description.span().start, problem))?;
        let verb = match &entry.verb {
            Some(verb) => words(verb, "verb", 200).map_err(|problem| refuse(verb.span().start, problem))?,
            None => lower_first(&description),
        };
        permissions.push(PermissionDef {
            permission: Permission::Platform(index as u8),
            name: name.clone(),
            description,
            verb,
            over_others: None,
            inference: entry.inference,
        });
    }
    let find = |permissions: &[PermissionDef], name: &str| {
        permissions
            .iter()
            .find(|def| def.name == name)
            .map(|def| def.permission)
    };
    let over_others: Vec<Option<Permission>> = parsed
        .permissions
        .iter()
        .map(|entry| {
            let Some(other) = &entry.over_others else {
                return Ok(None);
            };
            let at = other.span().start;
            let found = find(&permissions, other.get_ref());
            match found {
                Some(Permission::Platform(_)) if other.get_ref() != entry.name.get_ref() => Ok(found),
                Some(Permission::Platform(_)) => Err(refuse(at, format!("“{}” cannot be its own over_others", entry.name.get_ref()))),
                Some(_) => Err(refuse(at, format!("over_others names “{}”, one of Rollcall’s own permissions; name one of the platform’s", other.get_ref()))),
                None => Err(refuse(at, format!("over_others names “{}”, which is not a permission", other.get_ref()))),
            }
        })
        .collect::<Result<_, _>>()?;
    for (def, other) in permissions[OWN.len()..].iter_mut().zip(over_others) {
        def.over_others = other;
    }
    if parsed.roles.is_empty() {
        return Err(PolicyFileError {
            line: None,
            problem: "the policy declares no role besides owner: declare at least one [[roles]]".to_owned(),
        });
    }
    if parsed.roles.len() > MAX_ROLES {
        return Err(refuse(
            parsed.roles[MAX_ROLES].name.span().start,
            format!("a policy declares at most {MAX_ROLES} roles besides owner"),
        ));
    }
    let mut declared: Vec<(RoleDef, PermissionSet)> = Vec::new();
    let mut role_at: HashMap<String, usize> = HashMap::new();
    let mut default_role = None;
    for (index, entry) in parsed.roles.iter().enumerate() {
        let name = entry.name.get_ref();
        let at = entry.name.span().start;
        if name == "owner" {
            return Err(refuse(
                at,
                "the owner role is built in: it holds every permission, and a policy cannot change it"
                    .to_owned(),
            ));
        }
        if let Some(problem) = role_name_problem(name) {
            return Err(refuse(at, problem));
        }
        if let Some(first) = role_at.insert(name.clone(), at) {
            return Err(refuse(
                at,
                format!(
                    "the role “{name}” is declared twice (first on line {})",
                    line_of(first)
                ),
            ));
        }
        let label = match &entry.label {
            Some(label) => {
                words(label, "label", 40).map_err(|problem| refuse(label.span().start, problem))?
            }
            None => name.split('_').map(upper_first).collect::<Vec<_>>().join(" "),
        };
        let description = match &entry.description {
            Some(text) => {
                words(text, "description", 200).map_err(|problem| refuse(text.span().start, problem))?
            }
            None => String::new(),
        };
        let mut holds = PermissionSet::default();
        for permission in &entry.permissions {
            let held = find(&permissions, permission.get_ref()).ok_or_else(|| {
                refuse(
                    permission.span().start,
                    format!(
                        "the role “{name}” holds “{}”, which is not a permission",
                        permission.get_ref()
                    ),
                )
            })?;
            holds = holds.with(held);
        }
        let role = Role::at(index as u8 + 1);
        if entry.default {
            if default_role.is_some() {
                return Err(refuse(
                    at,
                    format!("“{name}” is the second role marked default; one role is"),
                ));
            }
            default_role = Some(role);
        }
        let def = RoleDef {
            role,
            name: name.clone(),
            label,
            description,
        };
        declared.push((def, holds));
    }
    let lowest = Role::at(declared.len() as u8);
    let routes = parsed
        .routes
        .iter()
        .map(|route| route_rule(route, &permissions, &refuse))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy::new(
        permissions,
        declared,
        default_role.unwrap_or(lowest),
        routes,
        source.to_owned(),
    ))
}

/// A route rule, its names checked against the policy's permissions.
fn route_rule(
    route: &RouteText,
    permissions: &[PermissionDef],
    refuse: &impl Fn(usize, String) -> PolicyFileError,
) -> Result<RouteRule, PolicyFileError> {
    let method = route.method.get_ref().trim();
    let method = match method {
        "*" => None,
        _ if !method.is_empty() && method.len() <= 16 && method.chars().all(|c| c.is_ascii_alphabetic()) => {
            Some(method.to_ascii_uppercase())
        }
        _ => {
            return Err(refuse(
                route.method.span().start,
                format!("“{method}” is not a method: name one, such as POST, or * for any"),
            ));
        }
    };
    let pattern = route.path.get_ref();
    if let Some(problem) = pattern_problem(pattern) {
        return Err(refuse(route.path.span().start, problem));
    }
    let segments = segments(pattern);
    let named = route.permission.get_ref();
    let permission = permissions
        .iter()
        .find(|def| def.name == *named)
        .map(|def| def.permission)
        .ok_or_else(|| {
            refuse(
                route.permission.span().start,
                format!("the route {pattern} needs “{named}”, which is not a permission"),
            )
        })?;
    let owner = match &route.owner {
        None => None,
        Some(owner) => Some(
            segments
                .iter()
                .position(|segment| *segment == Segment::Named(owner.get_ref().clone()))
                .ok_or_else(|| {
                    refuse(
                        owner.span().start,
                        format!(
                            "the route {pattern} has no segment {{{}}} to name the owner",
                            owner.get_ref()
                        ),
                    )
                })?,
        ),
    };
    Ok(RouteRule {
        method,
        segments,
        permission,
        owner,
    })
}

/// Why `name` cannot name a role, if it cannot.
fn role_name_problem(name: &str) -> Option<String> {
    let usable = (2..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (!usable).then(|| {
        format!(
            "“{}” is not a role’s name: use 2 to 32 lower-case letters, digits and underscores, such as endpoint_user",
            name.chars().take(32).collect::<String>()
        )
    })
}

/// Why `name` cannot name a permission, if it cannot: lower-case words of
/// letters, digits and underscores joined by dots, at least two.
fn name_problem(name: &str) -> Option<String> {
    let word = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_lowercase())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let parts: Vec<&str> = name.split('.').collect();
    let usable = name.len() <= 64 && parts.len() >= 2 && parts.iter().all(|part| word(part));
    (!usable).then(|| {
        format!(
            "“{}” is not a permission’s name: use lower-case words joined by dots, such as deployments.create (at most 64 characters)",
            name.chars().take(64).collect::<String>()
        )
    })
}

/// A label, a description or a verb: one line of at most `most` characters.
fn words(text: &Spanned<String>, field: &str, most: usize) -> Result<String, String> {
    let trimmed = text.get_ref().trim();
    if trimmed.is_empty() || trimmed.chars().count() > most || has_control(trimmed) {
        return Err(format!("the {field} must be one line of 1 to {most} characters"));
    }
    Ok(trimmed.to_owned())
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |first| first.to_lowercase().chain(chars).collect())
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BENTOCLOUD: &str = include_str!("../../../docs/policies/bentocloud.toml");
    const FIREWORKS: &str = include_str!("../../../docs/policies/fireworks.toml");

    fn refusal(text: &str) -> PolicyFileError {
        match parse_policy(text, "test.toml") {
            Ok(_) => panic!("accepted: {text}"),
            Err(error) => error,
        }
    }

    #[test]
    fn the_readme_s_examples_are_policies() {
        let bento = parse_policy(BENTOCLOUD, "bentocloud.toml").unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = bento.roles().iter().map(|def| def.name.as_str()).collect();
        assert_eq!(names, ["owner", "admin", "developer", "endpoint_user"]);
        assert_eq!(bento.roles()[3].label, "Endpoint User");
        assert_eq!(bento.roles()[2].label, "Developer");
        assert_eq!(bento.default_role(), bento.roles()[2].role);
        let endpoint_user = bento.roles()[3].role;
        let held: Vec<&str> = bento
            .held_by(endpoint_user)
            .map(|def| def.name.as_str())
            .collect();
        assert_eq!(
            held,
            ["members.view", "tokens.create_inference", "deployments.invoke"]
        );
        assert_eq!(bento.source.as_deref(), Some("bentocloud.toml"));

        let fireworks = parse_policy(FIREWORKS, "fireworks.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fireworks.roles().len(), 5);
        let deleting = fireworks.route("DELETE", "/v1/accounts/u1/models/m1");
        assert_eq!(deleting.as_ref().and_then(|m| m.owner), Some("u1"));
        assert_eq!(
            deleting.map(|m| m.rule.permission),
            fireworks.named("resources.manage")
        );
        assert!(bento.route("POST", "/v1/deployments/d1/infer").is_some());
        assert!(bento.route("PUT", "/v1/deployments/d1/infer").is_none());
        let manage = fireworks.named("resources.manage").and_then(|p| fireworks.def(p));
        assert_eq!(
            manage.and_then(|def| def.over_others),
            fireworks.named("resources.manage_others")
        );
        let contributor = fireworks.roles()[3].role;
        assert!(
            fireworks.holds(
                contributor,
                fireworks
                    .named("resources.manage")
                    .unwrap_or(Permission::ViewMembers)
            )
        );
        assert!(
            !fireworks.holds(
                contributor,
                fireworks
                    .named("resources.manage_others")
                    .unwrap_or(Permission::ViewMembers)
            )
        );
        assert!(fireworks.holds(
            Role::OWNER,
            fireworks.named("billing.view").unwrap_or(Permission::ViewMembers)
        ));
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line_and_what_is_wrong() {
        let role = "[[roles]]\nname = \"member\"\npermissions = [\"members.view\"]\n";
        let cases: [(String, usize, &str); 13] = [
            (
                format!("{role}[[routes]]\nmethod = \"GET\"\npath = \"/v1/x\"\npermission = \"nope.x\"\n"),
                7,
                "the route /v1/x needs “nope.x”, which is not a permission",
            ),
            (
                format!("{role}[[routes]]\nmethod = \"GET\"\npath = \"/v1/{{x}}\"\npermission = \"members.view\"\nowner = \"y\"\n"),
                8,
                "the route /v1/{x} has no segment {y} to name the owner",
            ),
            ("[[roles]\nname = 1".to_owned(), 1, ""),
            (format!("{role}colour = \"blue\"\n"), 4, "colour"),
            (
                format!("[[permissions]]\nname = \"a.b\"\ndescription = \"A\"\n[[permissions]]\nname = \"a.b\"\ndescription = \"B\"\n{role}"),
                5,
                "the permission “a.b” is declared twice (first on line 2)",
            ),
            (
                "[[roles]]\nname = \"member\"\npermissions = [\n  \"members.view\",\n  \"deployments.nuke\",\n]\n".to_owned(),
                5,
                "the role “member” holds “deployments.nuke”, which is not a permission",
            ),
            ("[[roles]]\nname = \"owner\"\npermissions = []\n".to_owned(), 2, "the owner role is built in"),
            (format!("{role}[[roles]]\nname = \"member\"\npermissions = []\n"), 5, "the role “member” is declared twice (first on line 2)"),
            (
                format!("[[permissions]]\nname = \"members.view\"\ndescription = \"Mine\"\n{role}"),
                2,
                "“members.view” is one of Rollcall’s own permissions",
            ),
            (
                format!("[[permissions]]\nname = \"a.b\"\ndescription = \"A\"\nover_others = \"a.c\"\n{role}"),
                4,
                "over_others names “a.c”, which is not a permission",
            ),
            (format!("[[permissions]]\nname = \"Deploy\"\ndescription = \"A\"\n{role}"), 2, "is not a permission’s name"),
            (format!("{role}default = true\n[[roles]]\nname = \"other\"\ndefault = true\npermissions = []\n"), 6, "the second role marked default"),
            ("[[roles]]\nname = \"Endpoint User\"\npermissions = []\n".to_owned(), 2, "is not a role’s name"),
        ];
        for (text, line, words) in cases {
            let error = refusal(&text);
            assert_eq!(error.line, Some(line), "{text}: {error}");
            assert!(error.problem.contains(words), "{text}: {error}");
        }
        let nobody = refusal("");
        assert_eq!(nobody.line, None);
        assert!(
            nobody.problem.contains("declares no role besides owner"),
            "{nobody}"
        );
    }
}
