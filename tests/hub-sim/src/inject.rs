//! Fault injection: rules that make the simulator slow, failing or broken on purpose.
//!
//! A rule names a method (or matches any request), an action, and how many requests it
//! applies to (until cleared when no count is given).
//!
//! Transport actions (delay, HTTP error page, truncated body, closed connection, redirect)
//! apply to a request when its method, or any call inside a multicall, matches. Every
//! matching delay adds up, and then the first matching transport action decides the reply.
//!
//! A `fault` action replaces the result of the matching call. For a call inside a multicall
//! only that entry becomes the fault, and a rule without a method faults the whole request.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::xmlrpc::fault::Fault;

/// A fault injection rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The method it applies to; absent or `"*"` for any request.
    #[serde(default)]
    pub method: Option<String>,
    /// What to do.
    pub action: FaultAction,
    /// How many matching requests (or calls, for `fault`) it applies to; absent for every
    /// request until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    /// Makes a rule for `method` (`None` for any request) that applies `times` times, or until
    /// cleared when `times` is `None`.
    pub fn new(method: Option<&str>, action: FaultAction, times: Option<u32>) -> FaultRule {
        FaultRule {
            method: method.map(str::to_owned),
            action,
            times,
        }
    }
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Sleep this long, then reply normally.
    Delay {
        /// Seconds.
        seconds: f64,
    },
    /// Reply with an XML-RPC fault (HTTP 200).
    Fault {
        /// Fault code (1014 is ServerOffline, which clients may retry).
        code: i32,
        /// Fault string.
        string: String,
    },
    /// Reply with an HTTP error and an HTML page, as a proxy in front of the hub does.
    HttpError {
        /// Status code, 400 to 599.
        status: u16,
    },
    /// Send the headers and only the start of the real body, then close the connection.
    Truncate {
        /// Bytes of the body to send; half of it by default.
        #[serde(default)]
        keep_bytes: Option<usize>,
    },
    /// Close the connection without any reply.
    CloseConnection,
    /// Redirect (302) to a login page, as a single sign-on proxy does.
    Redirect {
        /// The `Location`; the simulator's `/login` page by default.
        #[serde(default)]
        location: Option<String>,
    },
}

/// An installed rule with its id and remaining count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstalledRule {
    /// Id for removal.
    pub id: u64,
    /// The rule.
    pub rule: FaultRule,
    /// Requests it still applies to; absent for unlimited.
    pub remaining: Option<u32>,
}

/// What the transport rules decided for one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransportPlan {
    /// Sleep before answering.
    pub delay: Duration,
    /// The action that replaces the normal reply, if any.
    pub action: Option<FaultAction>,
}

/// The installed rules.
#[derive(Debug, Default)]
pub struct FaultRules {
    rules: Vec<InstalledRule>,
    next_id: u64,
}

impl FaultRules {
    /// Installs a rule and returns its id.
    pub fn add(&mut self, rule: FaultRule) -> Result<u64, SimError> {
        validate(&rule)?;
        self.next_id += 1;
        self.rules.push(InstalledRule {
            id: self.next_id,
            remaining: rule.times,
            rule,
        });
        Ok(self.next_id)
    }

    /// Removes the rule with `id`; returns whether it existed.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|installed| installed.id != id);
        self.rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Returns the installed rules.
    pub fn list(&self) -> Vec<InstalledRule> {
        self.rules.clone()
    }

    /// Decides the transport actions for a request calling `methods` (the request's method,
    /// then the calls inside a multicall), using up one application of each rule it takes.
    pub fn take_transport(&mut self, methods: &[&str]) -> TransportPlan {
        let mut plan = TransportPlan::default();
        for installed in &mut self.rules {
            if installed.remaining == Some(0) || !matches_any(&installed.rule, methods) {
                continue;
            }
            match &installed.rule.action {
                FaultAction::Fault { .. } => continue,
                FaultAction::Delay { seconds } => {
                    plan.delay += Duration::from_secs_f64(seconds.max(0.0));
                }
                action if plan.action.is_none() => plan.action = Some(action.clone()),
                _ => continue,
            }
            if let Some(remaining) = &mut installed.remaining {
                *remaining -= 1;
            }
        }
        self.rules
            .retain(|installed| installed.remaining != Some(0));
        plan
    }

    /// Returns the injected fault for one call, if a `fault` rule matches it. `top_level` is
    /// true when the call is the request itself, where rules without a method apply.
    pub fn take_call_fault(&mut self, method: &str, top_level: bool) -> Option<Fault> {
        let installed = self.rules.iter_mut().find(|installed| {
            installed.remaining != Some(0)
                && matches!(installed.rule.action, FaultAction::Fault { .. })
                && match installed.rule.method.as_deref() {
                    None | Some("*") => top_level,
                    Some(name) => name == method,
                }
        })?;
        if let Some(remaining) = &mut installed.remaining {
            *remaining -= 1;
        }
        let fault = match &installed.rule.action {
            FaultAction::Fault { code, string } => Some(Fault::plain(*code, string.clone())),
            _ => None,
        };
        self.rules
            .retain(|installed| installed.remaining != Some(0));
        fault
    }
}

fn matches_any(rule: &FaultRule, methods: &[&str]) -> bool {
    match rule.method.as_deref() {
        None | Some("*") => true,
        Some(name) => methods.contains(&name),
    }
}

fn validate(rule: &FaultRule) -> Result<(), SimError> {
    match &rule.action {
        FaultAction::HttpError { status } if !(400..=599).contains(status) => {
            Err(SimError::InvalidControl(format!(
                "http_error status {status} is not an error status; use 400 to 599, such as 502"
            )))
        }
        FaultAction::Delay { seconds } if !seconds.is_finite() || *seconds < 0.0 => {
            Err(SimError::InvalidControl(format!(
                "delay of {seconds} seconds is invalid; give a duration of 0 or more seconds"
            )))
        }
        _ => Ok(()),
    }
}

/// Returns the reason phrase of an HTTP status.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// Returns the HTML page a proxy (nginx) serves for an error status.
pub fn proxy_error_page(status: u16) -> String {
    let title = format!("{status} {}", reason_phrase(status));
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n\
         <center><h1>{title}</h1></center>\r\n\
         <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rules_expire() {
        let mut rules = FaultRules::default();
        rules
            .add(FaultRule::new(
                Some("listTasks"),
                FaultAction::CloseConnection,
                Some(1),
            ))
            .unwrap();
        assert_eq!(rules.take_transport(&["getHost"]).action, None);
        assert_eq!(
            rules.take_transport(&["multiCall", "listTasks"]).action,
            Some(FaultAction::CloseConnection)
        );
        assert_eq!(rules.take_transport(&["listTasks"]).action, None);
        assert!(rules.list().is_empty());
    }

    #[test]
    fn delays_add_up_and_faults_apply_per_call() {
        let mut rules = FaultRules::default();
        rules
            .add(FaultRule::new(
                None,
                FaultAction::Delay { seconds: 0.5 },
                None,
            ))
            .unwrap();
        rules
            .add(FaultRule::new(
                Some("getHost"),
                FaultAction::Delay { seconds: 0.25 },
                None,
            ))
            .unwrap();
        let fault = FaultAction::Fault {
            code: 1014,
            string: "offline".into(),
        };
        rules
            .add(FaultRule::new(Some("getHost"), fault, Some(2)))
            .unwrap();

        assert_eq!(
            rules.take_transport(&["getHost"]).delay,
            Duration::from_millis(750)
        );
        assert!(rules.take_call_fault("listHosts", false).is_none());
        assert_eq!(
            rules
                .take_call_fault("getHost", false)
                .map(|fault| fault.code),
            Some(1014)
        );
        assert!(rules.take_call_fault("getHost", true).is_some());
        assert!(rules.take_call_fault("getHost", true).is_none());
    }

    #[test]
    fn rejects_success_status() {
        let mut rules = FaultRules::default();
        let rule = FaultRule::new(None, FaultAction::HttpError { status: 200 }, None);
        assert!(rules.add(rule).is_err());
    }
}
