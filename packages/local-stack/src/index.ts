export { LocalStackError } from "./LocalStackError.js";
export type { DynamoDbLocal } from "./startDynamoDbLocal.js";
export { startDynamoDbLocal } from "./startDynamoDbLocal.js";
export type {
  LocalCustomerProfiles,
  ObjectSnapshot,
  ProfileSnapshot,
} from "./startLocalCustomerProfiles.js";
export { startLocalCustomerProfiles } from "./startLocalCustomerProfiles.js";
export type { LocalSqs } from "./startLocalSqs.js";
export { startLocalSqs } from "./startLocalSqs.js";
export type { LocalQueue, LocalStack } from "./startLocalStack.js";
export { startLocalStack } from "./startLocalStack.js";
