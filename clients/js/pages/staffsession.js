// What the staff pages (console, settings, staff accounts) share: the one stored login, the
// claims of a token, the API's error as an exception, and a small element builder.

export const TOKEN_KEY = "junban.console.token"; // one login for every staff page of a tab

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    Object.assign(this, { status, code });
  }
}

/** An element with attributes (`onclick`: a listener; true: present; false/null: absent). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v != null) node.setAttribute(k, String(v));
  }
  node.append(...children);
  return node;
}

/** The claims of a JWT (not verified: the hub does that), or null. */
export function claims(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return null;
  }
}

/** A login of this facility's staff (or the operator) that has not expired and needs no
 * password change first. */
export function usable(c, facility) {
  return Boolean(c && c.exp * 1000 > Date.now() && !c.pwc &&
    (c.role === "operator" || (c.role === "staff" && c.fac === facility)));
}

/** Ask yes or no in the page's `<dialog id="confirm">` (its `confirm-text`, `confirm-yes`
 * and `confirm-no`); resolves true for yes, false for no or Escape. */
export function confirmDialog(text) {
  const $ = (id) => document.getElementById(id);
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  dialog.showModal();
  $("confirm-no").focus();
  return new Promise((resolve) => {
    const done = (answer) => {
      $("confirm-yes").onclick = $("confirm-no").onclick = dialog.oncancel = null;
      dialog.close();
      resolve(answer);
    };
    $("confirm-yes").onclick = () => done(true);
    $("confirm-no").onclick = () => done(false);
    dialog.oncancel = () => done(false);
  });
}
