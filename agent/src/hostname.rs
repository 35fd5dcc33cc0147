//! The host name the agent reports when the configuration names none.

/// Returns the fully qualified domain name of this machine.
///
/// Takes the kernel host name and looks up its canonical name with the libc resolver
/// (`getaddrinfo` with `AI_CANONNAME`, which reads `/etc/hosts` and DNS in the order of
/// `nsswitch.conf`). Falls back to the plain host name when the lookup finds nothing.
pub fn fqdn() -> std::io::Result<String> {
    let hostname = dns_lookup::get_hostname()?;
    Ok(canonical_name(&hostname).unwrap_or(hostname))
}

fn canonical_name(hostname: &str) -> Option<String> {
    let hints = dns_lookup::AddrInfoHints {
        flags: nix::libc::AI_CANONNAME,
        address: 0,
        socktype: nix::libc::SOCK_STREAM,
        protocol: 0,
    };
    let mut answers = dns_lookup::getaddrinfo(Some(hostname), None, Some(hints)).ok()?;
    answers
        .find_map(|answer| answer.ok().and_then(|answer| answer.canonname))
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fqdn_is_not_empty() {
        let name = super::fqdn().unwrap();
        assert!(!name.is_empty());
        assert!(!name.contains(char::is_whitespace), "{name:?}");
    }

    /// Python's resolver, asked the same way, is an independent source for the name.
    #[test]
    fn fqdn_matches_python_resolver() {
        let Some(python) = koji_test_support::require_tool("python3") else {
            return;
        };
        let script = "import socket\n\
            host = socket.gethostname()\n\
            try:\n    \
                answers = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM, 0, \
                socket.AI_CANONNAME)\n\
            except socket.gaierror:\n    \
                answers = []\n\
            names = [answer[3] for answer in answers if answer[3]]\n\
            print(names[0] if names else host)\n";
        let output = std::process::Command::new(python)
            .args(["-c", script])
            .output()
            .expect("run python3");
        assert!(output.status.success(), "{output:?}");
        let expected = String::from_utf8(output.stdout).unwrap();

        assert_eq!(super::fqdn().unwrap(), expected.trim_end());
    }
}
