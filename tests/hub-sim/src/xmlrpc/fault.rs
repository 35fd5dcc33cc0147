//! Faults the way the hub raises and reports them.
//!
//! A Koji error (`koji.GenericError` and its subclasses) carries its own `faultCode` and
//! reports its message. Any other exception reports code 1 and, outside a multicall, the text
//! `"<class 'X'>: message"`. Inside a multicall every error is reported with its message and
//! a `traceback` list of strings (`traceback.format_exception`), while a plain XML-RPC `Fault`
//! (the simulator's injected faults) carries no traceback.

use dxr::Value;

/// Python's site-packages directory on the hub whose tracebacks the simulator reproduces.
const SITE_PACKAGES: &str = "/usr/lib/python3.11/site-packages";

/// One traceback frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// Path below site-packages.
    pub file: &'static str,
    /// Line number in that file.
    pub line: u32,
    /// Function name.
    pub function: &'static str,
    /// The source line, without indentation.
    pub source: &'static str,
    /// The sub-expression Python 3.11 underlines with carets, if any.
    pub underline: Option<&'static str>,
}

impl Frame {
    fn format(&self) -> String {
        let mut text = format!(
            "  File \"{SITE_PACKAGES}/{}\", line {}, in {}\n    {}\n",
            self.file, self.line, self.function, self.source
        );
        if let Some(expression) = self.underline {
            let column = self.source.find(expression).unwrap_or(0);
            text.push_str(&" ".repeat(4 + column));
            text.push_str(&"^".repeat(expression.chars().count()));
            text.push('\n');
        }
        text
    }
}

const MULTICALL_FRAME: Frame = Frame {
    file: "kojihub/kojixmlrpc.py",
    line: 366,
    function: "multiCall",
    source: "result = self._dispatch(call['methodName'], call['params'])",
    underline: Some("self._dispatch(call['methodName'], call['params'])"),
};

const DISPATCH_CALL_FRAME: Frame = Frame {
    file: "kojihub/kojixmlrpc.py",
    line: 347,
    function: "_dispatch",
    source: "ret = koji.util.call_with_argcheck(func, params, opts)",
    underline: Some("koji.util.call_with_argcheck(func, params, opts)"),
};

const ARGCHECK_CALL_FRAME: Frame = Frame {
    file: "koji/util.py",
    line: 516,
    function: "call_with_argcheck",
    source: "return func(*args, **kwargs)",
    underline: Some("func(*args, **kwargs)"),
};

const DISPATCH_LOOKUP_FRAMES: [Frame; 3] = [
    Frame {
        file: "kojihub/kojixmlrpc.py",
        line: 331,
        function: "_dispatch",
        source: "func = self._get_handler(method)",
        underline: Some("self._get_handler(method)"),
    },
    Frame {
        file: "kojihub/kojixmlrpc.py",
        line: 217,
        function: "_get_handler",
        source: "return self.handlers.get(name)",
        underline: Some("self.handlers.get(name)"),
    },
    Frame {
        file: "kojihub/kojixmlrpc.py",
        line: 186,
        function: "get",
        source: "raise koji.GenericError(\"Invalid method: %s\" % name)",
        underline: None,
    },
];

/// The frame of `get_host` raising "Invalid hostInfo".
pub const GET_HOST_RAISE_FRAME: Frame = Frame {
    file: "kojihub/kojihub.py",
    line: 5825,
    function: "get_host",
    source: "raise koji.GenericError('Invalid hostInfo: %s' % hostInfo)",
    underline: None,
};

/// Where an error was raised, which decides the frames of its multicall traceback.
#[derive(Clone, Copy, Debug)]
pub enum RaiseSite {
    /// The method lookup in the dispatcher ("Invalid method").
    MethodLookup,
    /// Inside the handler; the frame is known for the errors the simulator reproduces verbatim.
    Handler(Option<&'static Frame>),
}

/// An error raised by a hub method.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The XML-RPC fault code.
    pub code: i32,
    /// `str()` of the exception.
    pub message: String,
    /// The Python exception class, such as `koji.GenericError` or `Exception`.
    pub class: &'static str,
    /// Where it was raised.
    pub site: RaiseSite,
    /// A plain XML-RPC fault (no class prefix, no traceback), as injected by a test.
    pub plain: bool,
}

impl Fault {
    fn koji(code: i32, class: &'static str, message: String) -> Fault {
        Fault {
            code,
            message,
            class,
            site: RaiseSite::Handler(None),
            plain: false,
        }
    }

    /// `koji.GenericError`, code 1000.
    pub fn generic(message: impl Into<String>) -> Fault {
        Fault::koji(1000, "koji.GenericError", message.into())
    }

    /// `koji.AuthError`, code 1002.
    pub fn auth(message: impl Into<String>) -> Fault {
        Fault::koji(1002, "koji.AuthError", message.into())
    }

    /// `koji.ParameterError`, code 1019.
    pub fn parameter(message: impl Into<String>) -> Fault {
        Fault::koji(1019, "koji.ParameterError", message.into())
    }

    /// Makes a non-Koji Python exception of class `class`, code 1.
    pub fn exception(class: &'static str, message: impl Into<String>) -> Fault {
        Fault::koji(1, class, message.into())
    }

    /// "Invalid method: NAME", raised by the method lookup.
    pub fn invalid_method(name: &str) -> Fault {
        let mut fault = Fault::generic(format!("Invalid method: {name}"));
        fault.site = RaiseSite::MethodLookup;
        fault
    }

    /// Makes a plain XML-RPC fault with this code and string.
    pub fn plain(code: i32, string: impl Into<String>) -> Fault {
        Fault {
            code,
            message: string.into(),
            class: "xmlrpc.client.Fault",
            site: RaiseSite::Handler(None),
            plain: true,
        }
    }

    /// Records the frame that raised the fault.
    pub fn raised_at(mut self, frame: &'static Frame) -> Fault {
        self.site = RaiseSite::Handler(Some(frame));
        self
    }

    /// Returns the `faultString` of a top-level fault response.
    pub fn top_level_string(&self) -> String {
        if self.plain || self.class.starts_with("koji.") {
            self.message.clone()
        } else {
            format!("<class '{}'>: {}", self.class, self.message)
        }
    }

    /// Returns the struct that reports this fault inside a multicall result list.
    pub fn multicall_entry(&self) -> Value {
        let mut members = std::collections::BTreeMap::new();
        members.insert("faultCode".to_owned(), Value::Integer(self.code));
        members.insert(
            "faultString".to_owned(),
            Value::String(self.message.clone()),
        );
        if !self.plain {
            let lines = self.traceback().into_iter().map(Value::String).collect();
            members.insert("traceback".to_owned(), Value::Array(lines));
        }
        Value::Struct(members)
    }

    /// Returns the traceback lines of this fault raised inside a multicall.
    // NOTE: only the "Invalid method" and "Invalid hostInfo" tracebacks reproduce the hub's
    // verbatim. Other handler errors end at the `call_with_argcheck` frame, because the line
    // numbers of the raising functions in the hub's source are not recorded here.
    pub fn traceback(&self) -> Vec<String> {
        let mut lines = vec!["Traceback (most recent call last):\n".to_owned()];
        lines.push(MULTICALL_FRAME.format());
        match self.site {
            RaiseSite::MethodLookup => {
                lines.extend(DISPATCH_LOOKUP_FRAMES.iter().map(Frame::format));
            }
            RaiseSite::Handler(frame) => {
                lines.push(DISPATCH_CALL_FRAME.format());
                lines.push(ARGCHECK_CALL_FRAME.format());
                if let Some(frame) = frame {
                    lines.push(frame.format());
                }
            }
        }
        lines.push(format!("{}: {}\n", self.class, self.message));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_prefix_only_outside_koji_errors() {
        assert_eq!(
            Fault::exception("Exception", "Invalid order: x").top_level_string(),
            "<class 'Exception'>: Invalid order: x"
        );
        assert_eq!(
            Fault::generic("Invalid hostInfo: x").top_level_string(),
            "Invalid hostInfo: x"
        );
    }

    #[test]
    fn traceback_underlines_the_call() {
        let lines = Fault::invalid_method("nope").traceback();
        assert_eq!(lines.len(), 6);
        assert!(
            lines[1]
                .ends_with("\n             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n")
        );
        assert_eq!(lines[5], "koji.GenericError: Invalid method: nope\n");
    }
}
