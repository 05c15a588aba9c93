// A staff login (the console's, the settings page's and the staff page's) with its account
// recovery: the login call itself, the hint to ask the clinic admin when a login is refused,
// and the "set a new password" form that a login with a temporary password
// (`must_change_password`) leads to. Japanese and English.

import { addStrings, t } from "./i18n.js";
import { claims, el, usable } from "./staffsession.js";

addStrings({
  ja: {
    "pw.ask_admin": "パスワードを忘れた場合や、ログインできない状態が続く場合は、クリニックの管理者（またはシステム運営者）に連絡してください。管理者はロックの解除とパスワードの再発行ができます。",
    "pw.title": "新しいパスワードを設定",
    "pw.explain": "仮パスワードでログインしました。続けるには、ご自身だけが知る新しいパスワード（8 文字以上）を設定してください。",
    "pw.new": "新しいパスワード",
    "pw.again": "新しいパスワード（確認）",
    "pw.save": "設定してログイン",
    "pw.mismatch": "2 つのパスワードが一致しません。",
    "pw.weak": "パスワードは 8〜200 文字で、ユーザー名や仮パスワードと同じにはできません。",
    "pw.expired": "仮パスワードが無効になりました。管理者にもう一度再発行を依頼してください。",
    "pw.network": "サーバーに接続できません。もう一度お試しください。",
  },
  en: {
    "pw.ask_admin": "Forgot your password, or still cannot log in? Ask your clinic admin (or the system operator): they can unlock your login and issue a new password.",
    "pw.title": "Set a new password",
    "pw.explain": "You logged in with a temporary password. To continue, set a new password that only you know (at least 8 characters).",
    "pw.new": "New password",
    "pw.again": "New password (again)",
    "pw.save": "Save and log in",
    "pw.mismatch": "The two passwords differ.",
    "pw.weak": "A password has 8 to 200 characters and may not be the user name or the temporary password.",
    "pw.expired": "The temporary password is no longer valid. Ask your clinic admin to issue a new one.",
    "pw.network": "Cannot reach the server. Please try again.",
  },
});

/** The sentence a refused login (wrong password or throttled) adds: ask the clinic admin. */
export function askAdminHint() {
  return t("pw.ask_admin");
}

/**
 * Show the "set a new password" form in `section` (its other content hidden meanwhile) for a
 * login made with the temporary password `temporary`, whose token is `token`. Resolves with
 * the fresh token once the password is changed (older tokens stop working), or null when the
 * temporary token no longer works (the user must log in again).
 */
export function askNewPassword(section, token, temporary) {
  const hidden = [...section.children].filter((c) => !c.hidden);
  for (const child of hidden) child.hidden = true;
  const error = el("p", { class: "pw-error con-error st-error", role: "alert", id: "pw-error" });
  const fresh = el("input", { class: "jb-input", type: "password", name: "new", id: "pw-new", autocomplete: "new-password", required: true, minlength: 8, maxlength: 200 });
  const again = el("input", { class: "jb-input", type: "password", name: "again", id: "pw-again", autocomplete: "new-password", required: true, minlength: 8, maxlength: 200 });
  const save = el("button", { class: "jb-btn jb-btn-block", type: "submit" }, t("pw.save"));
  const form = el("form", { id: "pw-form", class: "pw-form" },
    el("h2", {}, t("pw.title")),
    el("p", { class: "jb-muted" }, t("pw.explain")),
    el("label", { class: "jb-field" }, el("span", {}, t("pw.new")), fresh),
    el("label", { class: "jb-field" }, el("span", {}, t("pw.again")), again),
    error, save);
  section.append(form);
  fresh.focus();
  const done = () => {
    form.remove();
    for (const child of hidden) child.hidden = false;
  };
  return new Promise((resolve) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      if (fresh.value !== again.value) {
        error.textContent = t("pw.mismatch");
        return;
      }
      save.disabled = true;
      try {
        const r = await fetch("/v1/auth/password", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
          body: JSON.stringify({ old: temporary, new: fresh.value }),
        });
        const data = await r.json().catch(() => ({}));
        if (r.ok) {
          done();
          resolve(data.token);
          return;
        }
        if (r.status === 401 && data.error?.code !== "invalid_credentials") {
          done();
          resolve(null);
          return;
        }
        error.textContent = r.status === 422 ? t("pw.weak") : r.status === 401 ? t("pw.expired") : data.error?.message || `HTTP ${r.status}`;
      } catch {
        error.textContent = t("pw.network");
      } finally {
        save.disabled = false;
      }
    });
  });
}

/**
 * Log in with the `user` and `password` fields of `form` (POST /v1/auth/login); the password
 * field is cleared once the hub accepts it. A temporary password leads through the
 * new-password form in `section` first. Resolves one of:
 * `{token, facility}` logged in; `{refused: {status, code, wait, message}}` the hub said no
 * (`wait`: its Retry-After, or null); `{expired: true}` the temporary login stopped working.
 * A network failure rejects.
 */
export async function logIn(form, section) {
  const password = form.password.value;
  const r = await fetch("/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: form.user.value, password }),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const message = data.error?.message || `HTTP ${r.status}`;
    return { refused: { status: r.status, code: data.error?.code, wait: r.headers.get("Retry-After"), message } };
  }
  form.password.value = "";
  let token = data.token;
  if (data.must_change_password) token = await askNewPassword(section, token, password);
  return token ? { token, facility: data.facility } : { expired: true };
}

/**
 * A staff page's login form submitted (`event.target` of its submit): `logIn`, with the
 * button disabled meanwhile and the reason of a refusal in `errorEl`. Resolves the token
 * when it may be used for `facility`, else null. `text(key, vars)` gives the page's own
 * strings for `login_wrong`, `login_wait`, `expired`, `login_other` and `err.network`.
 */
export async function submitLogin(form, section, errorEl, facility, text) {
  const button = form.querySelector("button");
  button.disabled = true;
  errorEl.textContent = "";
  try {
    const result = await logIn(form, section);
    if (result.refused) {
      const { status, code, wait, message } = result.refused;
      const why = status === 401 ? text("login_wrong")
        : code === "login_throttled" ? text("login_wait", { wait: wait || "–" })
        : message;
      errorEl.textContent = status === 401 || status === 429 ? `${why} ${askAdminHint()}` : why;
      return null;
    }
    if (result.expired) {
      errorEl.textContent = text("expired");
      return null;
    }
    if (!usable(claims(result.token), facility)) {
      errorEl.textContent = text("login_other", { facility: result.facility ?? "?" });
      return null;
    }
    return result.token;
  } catch {
    errorEl.textContent = text("err.network");
    return null;
  } finally {
    button.disabled = false;
  }
}
