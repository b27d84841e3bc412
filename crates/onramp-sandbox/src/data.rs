//! Fixed fake data: two sites, Jira projects and issues, Confluence spaces and pages.
//! Every site serves the same content; only names and URLs differ.

/// cloudId of the "Acme Sandbox" site.
pub const ACME_CLOUD_ID: &str = "8f6c7d2e-5b1a-4c3e-9a70-1d2e3f4a5b6c";
/// cloudId of the "Globex Sandbox" site.
pub const GLOBEX_CLOUD_ID: &str = "2b9e4f10-7c3d-4a8b-b615-0e9d8c7b6a54";

pub(crate) struct Site {
    pub id: &'static str,
    pub name: &'static str,
    pub url: &'static str,
    pub avatar: &'static str,
}

pub(crate) const SITES: &[Site] = &[
    Site {
        id: ACME_CLOUD_ID,
        name: "Acme Sandbox",
        url: "https://acme.sandbox.example",
        avatar: "acme",
    },
    Site {
        id: GLOBEX_CLOUD_ID,
        name: "Globex Sandbox",
        url: "https://globex.sandbox.example",
        avatar: "globex",
    },
];

pub(crate) fn site(cloud_id: &str) -> Option<&'static Site> {
    SITES.iter().find(|s| s.id == cloud_id)
}

pub(crate) struct Project {
    pub id: &'static str,
    pub key: &'static str,
    pub name: &'static str,
    pub type_key: &'static str,
}

pub(crate) const PROJECTS: &[Project] = &[
    Project {
        id: "10000",
        key: "ONR",
        name: "Onramp Launch",
        type_key: "software",
    },
    Project {
        id: "10001",
        key: "OPS",
        name: "Operations",
        type_key: "business",
    },
    Project {
        id: "10002",
        key: "HELP",
        name: "Help Desk",
        type_key: "service_desk",
    },
];

pub(crate) struct Issue {
    pub id: &'static str,
    pub key: &'static str,
    pub summary: &'static str,
    pub status: &'static str,
    pub issue_type: &'static str,
    pub project_key: &'static str,
    pub created: &'static str,
    pub updated: &'static str,
}

pub(crate) const ISSUES: &[Issue] = &[
    Issue {
        id: "10105",
        key: "ONR-5",
        summary: "Write the release notes",
        status: "To Do",
        issue_type: "Task",
        project_key: "ONR",
        created: "2025-03-05T10:00:00.000+0000",
        updated: "2025-03-09T16:20:00.000+0000",
    },
    Issue {
        id: "10104",
        key: "ONR-4",
        summary: "Store the client secret in the OS keychain",
        status: "In Progress",
        issue_type: "Story",
        project_key: "ONR",
        created: "2025-03-04T10:00:00.000+0000",
        updated: "2025-03-08T11:45:00.000+0000",
    },
    Issue {
        id: "10103",
        key: "ONR-3",
        summary: "Loopback callback listener on a fixed port",
        status: "Done",
        issue_type: "Story",
        project_key: "ONR",
        created: "2025-03-03T10:00:00.000+0000",
        updated: "2025-03-07T09:30:00.000+0000",
    },
    Issue {
        id: "10102",
        key: "OPS-2",
        summary: "Rotate the staging certificates",
        status: "Done",
        issue_type: "Task",
        project_key: "OPS",
        created: "2025-03-02T10:00:00.000+0000",
        updated: "2025-03-06T14:10:00.000+0000",
    },
    Issue {
        id: "10101",
        key: "HELP-1",
        summary: "Cannot log in after password change",
        status: "Waiting for support",
        issue_type: "Service Request",
        project_key: "HELP",
        created: "2025-03-01T10:00:00.000+0000",
        updated: "2025-03-05T08:00:00.000+0000",
    },
];

pub(crate) struct Space {
    pub id: &'static str,
    pub key: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub homepage_id: &'static str,
    pub created_at: &'static str,
}

pub(crate) const SPACES: &[Space] = &[
    Space {
        id: "131073",
        key: "ENG",
        name: "Engineering",
        kind: "global",
        homepage_id: "65537",
        created_at: "2024-11-04T09:00:00.000Z",
    },
    Space {
        id: "131074",
        key: "~sboxley",
        name: "Sandra Boxley",
        kind: "personal",
        homepage_id: "65540",
        created_at: "2024-11-05T09:00:00.000Z",
    },
];

pub(crate) struct Page {
    pub id: &'static str,
    pub title: &'static str,
    pub space_id: &'static str,
    pub parent_id: Option<&'static str>,
    pub created_at: &'static str,
    pub version: u32,
}

pub(crate) const PAGES: &[Page] = &[
    Page {
        id: "65537",
        title: "Engineering home",
        space_id: "131073",
        parent_id: None,
        created_at: "2024-11-04T09:00:00.000Z",
        version: 3,
    },
    Page {
        id: "65538",
        title: "Atlassian OAuth 2.0 (3LO) setup notes",
        space_id: "131073",
        parent_id: Some("65537"),
        created_at: "2024-11-06T13:15:00.000Z",
        version: 7,
    },
    Page {
        id: "65540",
        title: "Sandra's notes",
        space_id: "131074",
        parent_id: None,
        created_at: "2024-11-05T09:00:00.000Z",
        version: 1,
    },
];

/// A tiny avatar: a coloured square with an initial. `name` is the file stem.
pub(crate) fn avatar_svg(name: &str) -> Option<String> {
    let (colour, letter) = match name {
        "acme" => ("#0052cc", 'A'),
        "globex" => ("#00875a", 'G'),
        "user" => ("#6554c0", 'S'),
        _ => return None,
    };
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"48\" height=\"48\" viewBox=\"0 0 48 48\">\
<rect width=\"48\" height=\"48\" rx=\"6\" fill=\"{colour}\"/>\
<text x=\"24\" y=\"32\" font-family=\"sans-serif\" font-size=\"24\" fill=\"#fff\" text-anchor=\"middle\">{letter}</text></svg>"
    ))
}
