// Helpers for the services' tests (`@pia/aws/testing`); nothing here ships in a bundle.

export { BUSY_RULE } from "./busyRule.js";
export { emfEntries } from "./emfEntries.js";
export { memoryWindowTable } from "./memoryWindowTable.js";
