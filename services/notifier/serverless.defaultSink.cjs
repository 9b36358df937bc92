// ${file(./serverless.defaultSink.cjs)}: the notifier's default sink when neither --param sink nor
// PIA_SINK gives one. A stage that names a Customer Profiles domain delivers there (Pinpoint's
// successor for segments and journeys); any other stage to EventBridge. A file of its own, because
// serverless.sinks.cjs reads the resolved sink, which would make this a cycle.
module.exports = async ({ resolveVariable }) => {
  const domain = String((await resolveVariable("self:custom.profilesDomain")) ?? "");
  return domain === "" ? "eventbridge" : "customer-profiles";
};
