// What serverless.yml derives from the sink settings and cannot compute with its own variables
// (CloudFormation conditions have no "list contains" and no "starts with"):
//   ${file(./serverless.sinks.cjs):offersPinpoint}  "true" when SINK or SINKS names pinpoint
//   ${file(./serverless.sinks.cjs):eventBusArn}     the bus's ARN (a Fn::Sub string) from a name or an ARN
//   ${file(./serverless.sinks.cjs):profilesObjectType.*}  pia's object type (src/profiles/objectType.json)
//                                                    in the CloudFormation shape (lists of Name + value)
// Each sink's IAM policy must exist exactly when the sink is offered: a rule's action.sink can
// pick any sink in SINKS, not only the stage's default.

const OBJECT_TYPE = require("./src/profiles/objectType.json");

const EVENT_BUS_ARN = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]+$/;

module.exports = async ({ resolveVariable }) => {
  const sink = String(await resolveVariable("self:custom.sink"));
  const sinks = String((await resolveVariable("self:custom.sinks")) ?? "");
  const offered = new Set(
    [sink, ...sinks.split(",").map((name) => name.trim())].filter((name) => name !== ""),
  );
  const pinpointAppId = String((await resolveVariable("self:custom.pinpointAppId")) ?? "");
  const eventBusName = String((await resolveVariable("self:custom.eventBusName")) ?? "");
  const profilesDomain = String((await resolveVariable("self:custom.profilesDomain")) ?? "");
  const profilesKey = String((await resolveVariable("self:custom.profilesKey")) ?? "");

  if (offered.has("pinpoint") && pinpointAppId === "") {
    // Without an app the sink writes to each notification's app, which no scoped grant can cover.
    throw new Error(
      "the pinpoint sink is offered (sink or sinks) but pinpointAppId is empty: set --param pinpointAppId=<the Pinpoint project id>, so that the notifier may write to that app only",
    );
  }
  if (offered.has("customer-profiles") && profilesDomain === "") {
    throw new Error(
      "the customer-profiles sink is offered (sink or sinks) but profilesDomain is empty: set --param profilesDomain=<the Customer Profiles domain>",
    );
  }
  if (profilesDomain !== "" && !/^[a-zA-Z0-9_-]{1,64}$/.test(profilesKey)) {
    // A guessed key would give pia's objects profiles of their own: one user, two profiles.
    throw new Error(
      "profilesDomain is set but profilesKey is empty or not a key name: set --param profilesKey=<the search key your profiles are found by, e.g. the PROFILE key of your own object type>",
    );
  }
  if (profilesKey === OBJECT_TYPE.uniqueKey) {
    throw new Error(`profilesKey cannot be ${OBJECT_TYPE.uniqueKey}: it is pia's own UNIQUE key`);
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
    profilesObjectType: {
      Description: OBJECT_TYPE.description,
      Fields: OBJECT_TYPE.fields.map((name) => ({
        Name: name,
        ObjectTypeField: { Source: `_source.${name}`, ContentType: "STRING" },
      })),
      // Empty without a domain: the resource is then not created, but the file must resolve.
      Keys: [
        {
          Name: profilesKey === "" ? "unused" : profilesKey,
          ObjectTypeKeyList: [
            { StandardIdentifiers: ["PROFILE"], FieldNames: [OBJECT_TYPE.profileKeyField] },
          ],
        },
        {
          Name: OBJECT_TYPE.uniqueKey,
          ObjectTypeKeyList: [{ StandardIdentifiers: ["UNIQUE"], FieldNames: [OBJECT_TYPE.uniqueKeyField] }],
        },
      ],
    },
  };
};
