/**
 * A Customer Profiles call failed for a reason other than the domain's content (exit 1). Its own
 * module, so that runCli can recognise it without loading the SDK that `pia profiles` uses.
 */
export class ProfilesError extends Error {
  override readonly name = "ProfilesError";
}
