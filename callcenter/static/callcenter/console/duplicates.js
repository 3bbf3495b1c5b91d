/*
 * Operator console: possible duplicates of the ticket still being typed (before it is accepted): open tickets
 * of the same subject near the pin or of the same caller, and closed ones of the same caller and subject
 * (the matter came back). Shown in the routing panel; the opened ticket's own candidates are ticket.js.
 */

import { $, api, clear, debounce, el, fmt, plausiblePhone, shortTime, show } from "./helpers.js";
import { state } from "./state.js";
import { currentSubject, fields } from "./fields.js";

let seq = 0;

export function clearDraftDuplicates() {
  ++seq;
  const box = $("draft-duplicates");
  clear(box);
  show(box, false);
}

export const checkDraftDuplicates = debounce(async function () {
  const mine = ++seq;
  const subject = currentSubject();
  const phone = fields.phone.value.trim();
  if (state.submitted || !subject || (!state.pin && !plausiblePhone(phone))) {
    clearDraftDuplicates();
    return;
  }
  const body = { subject: subject.code, coordinate_system: "wgs84" };
  if (plausiblePhone(phone)) body.phone = phone;
  if (state.pin) {
    body.latitude = state.pin.latitude;
    body.longitude = state.pin.longitude;
  }
  let data;
  try {
    data = await api("POST", "/api/intake/duplicates/", body);
  } catch (error) {
    if (mine === seq) clearDraftDuplicates();
    return;
  }
  if (mine !== seq) return;
  render(data.candidates || []);
}, 400);

function render(candidates) {
  const box = $("draft-duplicates");
  clear(box);
  if (!candidates.length) {
    show(box, false);
    return;
  }
  box.appendChild(el("strong", { text: fmt(gettext("Possible duplicates: %(n)s"), { n: candidates.length }) }));
  const list = el("ul");
  for (const c of candidates.slice(0, 5)) {
    const why = c.repeat
      ? gettext("the same caller about the same subject, closed already (repeat)")
      : c.same_caller && c.same_subject
        ? gettext("the same caller about the same subject")
        : c.same_subject
          ? fmt(gettext("the same subject %(m)s m away"), { m: Math.round(c.distance_m || 0) })
          : gettext("the same caller");
    list.appendChild(
      el("li", { class: c.repeat ? "repeat" : "" }, [
        el("a", { href: "/tickets/" + encodeURIComponent(c.number) + "/", target: "_blank", rel: "noopener", text: c.number }),
        el("span", { text: " " + c.state_label + " · " + shortTime(c.created_at) + " · " + why }),
      ])
    );
  }
  box.appendChild(list);
  show(box, true);
}
