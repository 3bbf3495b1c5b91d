/*
 * Workbench: where a lower module must make a higher one act (a tab opens a queue, a saved search runs),
 * it calls these hooks, which main.js fills in before anything runs.
 */

export const hooks = {
  openQueue: function () {},
  openSearch: function () {},
  runSearch: function () {},
  reloadTable: function () {},
};
