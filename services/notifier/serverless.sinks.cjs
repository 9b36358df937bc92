// What serverless.yml derives from the sink settings and cannot compute with its own variables
// (CloudFormation conditions have no "list contains" and no "starts with"):
//   ${file(./serverless.sinks.cjs):offersPinpoint}  "true" when SINK or SINKS names pinpoint
//   ${file(./serverless.sinks.cjs):eventBusArn}     the bus's ARN (a Fn::Sub string) from a name or an ARN
// Each sink's IAM policy must exist exactly when the sink is offered: a rule's action.sink can
// pick any sink in SINKS, not only the stage's default.

const EVENT_BUS_ARN = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]+$/;

module.exports = async ({ resolveVariable }) => {
  const sink = String(await resolveVariable("self:custom.sink"));
  const sinks = String((await resolveVariable("self:custom.sinks")) ?? "");
  const offered = new Set(
    [sink, ...sinks.split(",").map((name) => name.trim())].filter((name) => name !== ""),
  );
  const pinpointAppId = String((await resolveVariable("self:custom.pinpointAppId")) ?? "");
  const eventBusName = String((await resolveVariable("self:custom.eventBusName")) ?? "");

  if (offered.has("pinpoint") && pinpointAppId === "") {
    // Without an app the sink writes to each notification's app, which no scoped grant can cover.
    throw new Error(
      "the pinpoint sink is offered (sink or sinks) but pinpointAppId is empty: set --param pinpointAppId=<the Pinpoint project id>, so that the notifier may write to that app only",
    );
  }
  if (eventBusName.startsWith("arn:") && !EVENT_BUS_ARN.test(eventBusName)) {
    throw new Error(
      "eventBusName looks like an ARN but is not an event bus's (arn:aws:events:<region>:<account>:event-bus/<name>): give the bus's name or its full ARN",
    );
  }
  return {
    offersPinpoint: String(offered.has("pinpoint")),
    // PutEvents on a bus given by ARN (another account's or region's bus) is authorised on that
    // ARN; a name is a bus of this account and region.
    eventBusArn: eventBusName.startsWith("arn:")
      ? eventBusName
      : `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:event-bus/${eventBusName}`,
  };
};
