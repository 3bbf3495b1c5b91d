/*
 * Operator console: the intake form's fields, and what the panels that fill them in (call, map, geocoding,
 * routing) need of them: field errors, the subject the typed text means, the "typed in" flag. The form's
 * own behaviour (validation, submit, reset) is intake.js.
 */

import { $ } from "./helpers.js";
import { state, subjectByCode, subjectByPath, subjects } from "./state.js";

export const form = $("intake");
export const fields = {
  phone: $("f-phone"),
  caller_name: $("f-caller-name"),
  caller_confidential: $("f-confidential"),
  appeal_type: $("f-appeal-type"),
  channel: $("f-channel"),
  urgency: $("f-urgency"),
  subject: $("f-subject"),
  title: $("f-title"),
  description: $("f-description"),
  address: $("f-address"),
};

/** The subject the text in the field means: an exact path, or the only subject whose path contains it. */
export function matchSubjects(text) {
  const value = (text || "").trim();
  if (!value) return [];
  const exact = subjectByPath.get(value) || subjectByCode.get(value);
  if (exact) return [exact];
  const byName = subjects.filter((s) => s.name === value);
  if (byName.length) return byName;
  const needle = value.replace(/\s*>\s*/g, " > ").toLowerCase();
  return subjects.filter((s) => s.path.toLowerCase().includes(needle) || s.code.includes(needle));
}

export function currentSubject() {
  const matches = matchSubjects(fields.subject.value);
  return matches.length === 1 ? matches[0] : null;
}

export function setFieldError(name, message) {
  const box = $("err-" + name);
  const input = fields[name];
  if (box) box.textContent = message || "";
  if (input) {
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

export function markDirty() {
  if (!state.submitted) state.dirty = true;
}
