// The patient page's service worker, served at /q-sw.js with the scope /q/ (hub/web/pages.py).
// It shows the hub's Web Push messages (hub/notify/webpush.py: {title, body, path, number,
// ahead, trigger, ticket, clinic}) while the ticket page is closed or the phone is in a
// pocket, and a tap on one focuses or opens the ticket's page. No caching, no fetch handler:
// the page itself stays live over the network.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function parse(event) {
  if (!event.data) return null;
  try {
    return event.data.json();
  } catch {
    return { title: event.data.text() };
  }
}

/** Only this hub's ticket pages may be opened from a notification. */
function safePath(path) {
  return typeof path === "string" && /^\/q\/[A-Za-z0-9_-]+(\/t\/[A-Za-z0-9_-]+)?$/.test(path) ? path : "/q/";
}

self.addEventListener("push", (event) => {
  const data = parse(event) || {};
  const title = String(data.title || "順番 Junban");
  const options = {
    body: String(data.body || ""),
    // one notification per ticket: a newer message (called after near) replaces the older
    tag: String(data.ticket || data.path || "junban"),
    renotify: true,
    requireInteraction: data.trigger === "called",
    icon: "/static/pages/favicon.svg",
    lang: "ja",
    data: { path: safePath(data.path), trigger: data.trigger || "", number: data.number ?? null },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const path = safePath(event.notification.data?.path);
  const url = new URL(path, self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (new URL(client.url).pathname === path && "focus" in client) return client.focus();
      }
      return self.clients.openWindow ? self.clients.openWindow(url) : undefined;
    })(),
  );
});
