//! The device-code verification page the simulator's `verification_uri` points at
//! (`{base}devicelogin`), standing in for `https://microsoft.com/devicelogin`: `GET` shows every
//! pending code with an Approve and a Decline button (one click), `POST` with the form field
//! `code` (and optionally `user`, a UPN, and `action=decline`) decides it, so one
//! `curl -d code=ABCD2345 {base}devicelogin` signs the waiting `stagehand login` in as the ops
//! lead. Only codes the simulator issued are accepted; everything shown is HTML-escaped.

use std::collections::HashMap;

use super::server::{Incoming, Reply, ReplyBody, State};

/// The page's path.
pub const PATH: &str = "/devicelogin";

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: u16, title: &str, body: &str) -> Reply {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body>\n<h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title)
    );
    Reply {
        status,
        headers: vec![("Cache-Control".into(), "no-store".into())],
        body: ReplyBody::Bytes {
            content_type: "text/html; charset=utf-8",
            data: html.into_bytes(),
        },
        drop: false,
    }
}

/// `GET` or `POST {base}devicelogin`.
pub fn handle(st: &mut State, inc: &Incoming) -> Reply {
    match inc.method.as_str() {
        "GET" => form(st, inc.query.get("code").map(String::as_str)),
        "POST" => decide(st, inc),
        _ => {
            page(405, "Method not allowed", "<p>Use GET or POST.</p>").header("Allow", "GET, POST")
        }
    }
}

fn form(st: &State, prefill: Option<&str>) -> Reply {
    let lead = escape(&st.dir.lead().upn);
    let mut codes = st.tokens.pending_user_codes();
    codes.sort();
    let action = escape(&format!("{}{}", st.base, PATH.trim_start_matches('/')));
    let mut body = format!(
        "<p>Simulated tenant {tenant}. Enter the code that <code>stagehand login</code> shows; it signs in as <b>{lead}</b> unless you name another user.</p>\n\
         <form method=\"post\" action=\"{action}\">\n\
         <label>Code <input name=\"code\" value=\"{code}\" autofocus></label>\n\
         <label>User <input name=\"user\" value=\"{lead}\"></label>\n\
         <button type=\"submit\">Approve</button>\n\
         <button type=\"submit\" name=\"action\" value=\"decline\">Decline</button>\n\
         </form>\n",
        tenant = escape(&st.tenant_id),
        code = escape(prefill.unwrap_or("")),
    );
    if codes.is_empty() {
        body.push_str("<p id=\"pending\">No sign-in is waiting for a code.</p>\n");
    } else {
        body.push_str("<h2>Waiting sign-ins</h2>\n<ul id=\"pending\">\n");
        for c in &codes {
            let c = escape(c);
            body.push_str(&format!(
                "<li><form method=\"post\" action=\"{action}\"><code>{c}</code> \
                 <input type=\"hidden\" name=\"code\" value=\"{c}\">\
                 <button type=\"submit\">Approve as {lead}</button> \
                 <button type=\"submit\" name=\"action\" value=\"decline\">Decline</button></form></li>\n"
            ));
        }
        body.push_str("</ul>\n");
    }
    body.push_str(&format!(
        "<p>From a shell: <code>curl -d code=CODE {action}</code></p>"
    ));
    page(200, "Sign in to the simulated tenant", &body)
}

fn decide(st: &mut State, inc: &Incoming) -> Reply {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&inc.body)
        .into_owned()
        .collect();
    let code = form.get("code").map(|c| c.trim()).unwrap_or("");
    if code.is_empty() {
        return page(
            400,
            "No code",
            "<p>Send the code shown by <code>stagehand login</code> in the form field <code>code</code>.</p>",
        );
    }
    let known = st
        .tokens
        .pending_user_codes()
        .iter()
        .any(|c| c.eq_ignore_ascii_case(code));
    if !known {
        return page(
            404,
            "Unknown code",
            &format!(
                "<p>No sign-in is waiting for the code <code>{}</code>: it was mistyped, already used, or has expired. Run <code>stagehand login</code> again for a new one.</p>",
                escape(code)
            ),
        );
    }
    if form.get("action").is_some_and(|a| a == "decline") {
        st.tokens.decline(code);
        return page(
            200,
            "Sign-in declined",
            "<p>The waiting <code>stagehand login</code> was told the sign-in was declined.</p>",
        );
    }
    let who = form
        .get("user")
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .map_or_else(|| Some(st.dir.lead()), |u| st.dir.find(u));
    let Some(user) = who.map(|u| (u.id.clone(), u.upn.clone())) else {
        return page(
            404,
            "Unknown user",
            &format!(
                "<p>The simulated directory has no user <code>{}</code>.</p>",
                escape(form.get("user").map(String::as_str).unwrap_or(""))
            ),
        );
    };
    st.tokens.approve(code, &user.0);
    page(
        200,
        "Signed in",
        &format!(
            "<p id=\"signed-in\">Signed in as <b>{}</b>. You can close this window; <code>stagehand login</code> finishes on its next poll.</p>",
            escape(&user.1)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn outside_text_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x&y's")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;y&#39;s&quot;)&lt;/script&gt;"
        );
    }
}
