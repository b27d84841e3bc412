//! The Linux desktop entry that makes `onramp://` links start Onramp, written by Onramp itself.
//!
//! tauri-plugin-deep-link's `register_all` writes `Exec="<path>" %u`: the path always in quotes.
//! Debian 12's `xdg-open` (xdg-utils 1.1.3, generic mode) takes the first word of `Exec` literally,
//! quotes included, so it cannot start that entry and Chromium-family browsers (which hand custom
//! schemes to `xdg-open`) never deliver the callback (tauri-apps/plugins-workspace#3374,
//! tauri-apps/tauri#10570). The Desktop Entry spec only asks for quotes when an argument contains a
//! reserved character; [`exec_line`] quotes exactly then, so an ordinary path works with both
//! `xdg-open` and `gio open`. (A path that needs quoting still works with `gio open` and desktop
//! environments; Debian 12's generic `xdg-open` cannot run any quoted path.)
//!
//! Pure: building the entry and deciding whether the one on disk, and the MIME default, are already
//! right. The shell writes the file and runs `update-desktop-database` / `xdg-mime` only when not.

/// The entry's file name, the same one the plugin used, so an older entry is replaced.
pub fn handler_file_name(binary_file_name: &str) -> String {
    format!("{binary_file_name}-handler.desktop")
}

/// The MIME type of a URL scheme handler.
pub fn scheme_mime_type(scheme: &str) -> String {
    format!("x-scheme-handler/{scheme}")
}

/// Characters that force an `Exec` argument into double quotes (Desktop Entry spec, "The Exec key").
const RESERVED: &[char] = &[
    ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')',
    '`',
];

/// One `Exec` argument as the spec wants it, before the key-file string escaping: `%` doubled;
/// quoted in whole only when it holds a reserved character, and then `"`, `` ` ``, `$` and `\`
/// inside are escaped with a backslash.
pub fn exec_argument(arg: &str) -> String {
    let arg = arg.replace('%', "%%");
    if !arg.contains(RESERVED) {
        return arg;
    }
    let mut quoted = String::with_capacity(arg.len() + 2);
    quoted.push('"');
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// A value of type string in a key file: backslash, newline, tab and carriage return escaped
/// (`\\`, `\n`, `\t`, `\r`). Applied after the `Exec` quoting, as the spec says readers undo it first.
pub fn escape_string_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The `Exec` value for `program` receiving one URL: `<program> %u`, escaped for the file.
pub fn exec_line(program: &str) -> String {
    escape_string_value(&format!("{} %u", exec_argument(program)))
}

/// The whole handler entry. `name` is shown by some desktops; `program` is the absolute path to
/// start (the AppImage when Onramp runs as one).
pub fn handler_entry(name: &str, program: &str, scheme: &str) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName={}\nExec={}\nTerminal=false\nMimeType={};\nNoDisplay=true\n",
        escape_string_value(name),
        exec_line(program),
        scheme_mime_type(scheme),
    )
}

/// True when `mimeapps.list` already names `desktop_file` as the default for `mime_type` (first in
/// the `[Default Applications]` list, as `xdg-mime default` writes it).
pub fn is_default_handler(mimeapps_list: &str, mime_type: &str, desktop_file: &str) -> bool {
    let mut in_defaults = false;
    for line in mimeapps_list.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_defaults = line == "[Default Applications]";
            continue;
        }
        if !in_defaults {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            if key.trim() == mime_type {
                return value.split(';').next().map(str::trim) == Some(desktop_file);
            }
        }
    }
    false
}

/// Where and what to register, and the tools to run (their names on `PATH`, or test stand-ins).
pub struct HandlerRegistration {
    /// `$XDG_DATA_HOME/applications`.
    pub applications_dir: std::path::PathBuf,
    /// `$XDG_CONFIG_HOME/mimeapps.list`, where `xdg-mime default` records the default.
    pub mimeapps_list: std::path::PathBuf,
    /// The entry's file name ([`handler_file_name`]).
    pub file_name: String,
    pub name: String,
    pub program: String,
    pub scheme: String,
    pub xdg_mime: std::ffi::OsString,
    pub update_desktop_database: std::ffi::OsString,
}

/// What [`HandlerRegistration::ensure`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    /// The entry on disk and the MIME default were already exactly right: no tool was started.
    AlreadyRight,
    /// The entry was (re)written and/or the default set.
    Updated,
}

impl HandlerRegistration {
    /// Writes the entry and sets the MIME default, unless both are already right (the usual
    /// start: nothing is written and no process is started). Blocking: run it off the main thread.
    pub fn ensure(&self) -> std::io::Result<Registered> {
        use std::process::Command;
        let path = self.applications_dir.join(&self.file_name);
        let entry = handler_entry(&self.name, &self.program, &self.scheme);
        let mime_type = scheme_mime_type(&self.scheme);
        let entry_right = std::fs::read_to_string(&path).is_ok_and(|on_disk| on_disk == entry);
        let default_right = std::fs::read_to_string(&self.mimeapps_list)
            .is_ok_and(|list| is_default_handler(&list, &mime_type, &self.file_name));
        if entry_right && default_right {
            return Ok(Registered::AlreadyRight);
        }
        if !entry_right {
            std::fs::create_dir_all(&self.applications_dir)?;
            // Written aside and renamed: a reader never sees half an entry.
            let partial = path.with_extension("desktop.partial");
            std::fs::write(&partial, &entry)?;
            std::fs::rename(&partial, &path)?;
            // Optional: only refreshes the MIME cache (desktop-file-utils).
            match Command::new(&self.update_desktop_database)
                .arg(&self.applications_dir)
                .output()
            {
                Ok(out) if !out.status.success() => tracing::warn!(
                    "update-desktop-database failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Err(e) => tracing::warn!("update-desktop-database not run: {e}"),
                Ok(_) => {}
            }
        }
        let out = Command::new(&self.xdg_mime)
            .args(["default", &self.file_name, &mime_type])
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "xdg-mime default failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Registered::Updated)
    }
}

/// Splits an `Exec` value back into arguments, the way the spec tells readers to (string escapes
/// first, then quoting, then `%%`); `%u` stays as is. Used by the tests to prove the round trip.
#[cfg(test)]
fn parse_exec(value: &str) -> Vec<String> {
    let mut unescaped = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => unescaped.push('\n'),
                Some('t') => unescaped.push('\t'),
                Some('r') => unescaped.push('\r'),
                Some('s') => unescaped.push(' '),
                Some(other) => unescaped.push(other),
                None => {}
            }
        } else {
            unescaped.push(c);
        }
    }
    let mut args = Vec::new();
    let mut chars = unescaped.chars().peekable();
    while chars.peek().is_some() {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut arg = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => arg.extend(chars.next()),
                    c => arg.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        if arg != "%u" {
            arg = arg.replace("%%", "%");
        }
        args.push(arg);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_path_is_not_quoted_so_xdg_open_can_run_it() {
        assert_eq!(
            exec_line("/home/dev/.cache/onramp-target/debug/onramp"),
            "/home/dev/.cache/onramp-target/debug/onramp %u"
        );
        assert_eq!(
            exec_line("/opt/Onramp_0.1.0-x86_64.AppImage"),
            "/opt/Onramp_0.1.0-x86_64.AppImage %u"
        );
    }

    #[test]
    fn reserved_characters_are_quoted_and_escaped_per_the_spec() {
        for (path, exec) in [
            ("/home/a b/onramp", r#""/home/a b/onramp" %u"#),
            (r#"/home/a"b/onramp"#, r#""/home/a\\"b/onramp" %u"#),
            ("/home/a'b/onramp", r#""/home/a'b/onramp" %u"#),
            ("/home/$USER/onramp", r#""/home/\\$USER/onramp" %u"#),
            ("/home/a`b`/onramp", r#""/home/a\\`b\\`/onramp" %u"#),
            // A literal backslash in a quoted argument is four in the file.
            (r"/home/a\b/onramp", r#""/home/a\\\\b/onramp" %u"#),
            ("/home/~/x;y&z/onramp", r#""/home/~/x;y&z/onramp" %u"#),
            ("/tmp/a\nb/onramp", r#""/tmp/a\nb/onramp" %u"#),
        ] {
            assert_eq!(exec_line(path), exec, "{path:?}");
        }
    }

    #[test]
    fn a_percent_sign_is_doubled_quoted_or_not() {
        assert_eq!(exec_line("/opt/100%/onramp"), "/opt/100%%/onramp %u");
        assert_eq!(
            exec_line("/opt/100% x/onramp"),
            r#""/opt/100%% x/onramp" %u"#
        );
    }

    #[test]
    fn every_path_reads_back_as_itself() {
        for path in [
            "/usr/bin/onramp",
            "/home/a b/onramp",
            r#"/h/q"u'o`t$e\s/onramp"#,
            "/opt/100%/onramp",
            "/tmp/tab\there/new\nline/cr\rx",
            "/opt/ünï cödé/onramp",
            r"/\\double",
        ] {
            assert_eq!(
                parse_exec(&exec_line(path)),
                vec![path.to_string(), "%u".to_string()],
                "{path:?}"
            );
        }
    }

    #[test]
    fn the_entry_is_one_line_per_key() {
        let entry = handler_entry("Onramp", "/opt/a\nb/onramp", "onramp");
        assert_eq!(
            entry,
            "[Desktop Entry]\nType=Application\nName=Onramp\nExec=\"/opt/a\\nb/onramp\" %u\nTerminal=false\nMimeType=x-scheme-handler/onramp;\nNoDisplay=true\n"
        );
        assert_eq!(handler_file_name("onramp"), "onramp-handler.desktop");
    }

    /// A stand-in tool that records its arguments; `xdg-mime default` also writes the default the
    /// way the real one does.
    fn fake_tool(
        dir: &std::path::Path,
        name: &str,
        log: &std::path::Path,
        mimeapps: &std::path::Path,
    ) -> std::ffi::OsString {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\nif [ \"$1\" = default ]; then printf '[Default Applications]\\n%s=%s\\n' \"$3\" \"$2\" > '{}'; fi\n",
                log.display(),
                mimeapps.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.into_os_string()
    }

    #[test]
    fn registration_writes_once_and_then_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.log");
        let mimeapps = dir.path().join("config/mimeapps.list");
        std::fs::create_dir_all(mimeapps.parent().unwrap()).unwrap();
        let registration = HandlerRegistration {
            applications_dir: dir.path().join("data/applications"),
            mimeapps_list: mimeapps.clone(),
            file_name: handler_file_name("onramp"),
            name: "Onramp".into(),
            program: "/opt/onramp/onramp".into(),
            scheme: "onramp".into(),
            xdg_mime: fake_tool(dir.path(), "xdg-mime", &log, &mimeapps),
            update_desktop_database: fake_tool(
                dir.path(),
                "update-desktop-database",
                &log,
                &mimeapps,
            ),
        };
        // An entry the plugin wrote before (quoted path): replaced.
        std::fs::create_dir_all(&registration.applications_dir).unwrap();
        let path = registration.applications_dir.join("onramp-handler.desktop");
        std::fs::write(&path, "[Desktop Entry]\nExec=\"/opt/onramp/onramp\" %u\n").unwrap();
        assert_eq!(registration.ensure().unwrap(), Registered::Updated);
        let entry = std::fs::read_to_string(&path).unwrap();
        assert!(entry.contains("\nExec=/opt/onramp/onramp %u\n"), "{entry}");
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls.lines().count(), 2, "{calls}");
        assert!(calls.contains("xdg-mime default onramp-handler.desktop x-scheme-handler/onramp"));
        // The next start: everything is right, no tool runs.
        assert_eq!(registration.ensure().unwrap(), Registered::AlreadyRight);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), calls);
        // Another program moved the default away: only xdg-mime runs.
        std::fs::write(
            &mimeapps,
            "[Default Applications]\nx-scheme-handler/onramp=other.desktop\n",
        )
        .unwrap();
        assert_eq!(registration.ensure().unwrap(), Registered::Updated);
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls.lines().count(), 3, "{calls}");
    }

    #[test]
    fn the_mime_default_is_read_from_mimeapps_list() {
        let list = "[Added Associations]\nx-scheme-handler/onramp=other.desktop;\n\n[Default Applications]\nx-scheme-handler/http=browser.desktop\nx-scheme-handler/onramp=onramp-handler.desktop;other.desktop;\n";
        let mime = "x-scheme-handler/onramp";
        assert!(is_default_handler(list, mime, "onramp-handler.desktop"));
        assert!(!is_default_handler(list, mime, "other.desktop"));
        assert!(!is_default_handler(
            "[Added Associations]\nx-scheme-handler/onramp=onramp-handler.desktop\n",
            mime,
            "onramp-handler.desktop"
        ));
        assert!(!is_default_handler("", mime, "onramp-handler.desktop"));
        assert!(is_default_handler(
            "[Default Applications]\nx-scheme-handler/onramp=onramp-handler.desktop\n",
            mime,
            "onramp-handler.desktop"
        ));
    }
}
