/*
 * Operator console: the canned-phrase picker (../phrases.js) under the intake description, offering the
 * intake phrases of the subject typed so far, with {address} and {subject} filled from the form.
 */

import { attachPhrasePicker } from "../phrases.js";
import { currentSubject, fields } from "./fields.js";

export function bindPhrases() {
  attachPhrasePicker(fields.description, {
    kind: "intake",
    subject: function () {
      const subject = currentSubject();
      return subject ? subject.code : null;
    },
    values: function () {
      const subject = currentSubject();
      return {
        address: fields.address.value.trim(),
        subject: subject ? subject.path.split(" > ").pop() : "",
      };
    },
  });
}
