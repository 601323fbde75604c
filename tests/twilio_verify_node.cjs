// Drives Twilio's Node.js SDK (the npm `twilio` package, unmodified but for its Verify base
// URL) through the service's Twilio Verify compatible API, and prints what it saw as JSON
// for tests/test_twilio_verify.py to judge.
"use strict";

const twilio = require("twilio");

const env = process.env;
const BASE_URL = env.OTP_BASE_URL;

function client(key = env.OTP_API_KEY) {
  const made = twilio(env.OTP_ACCOUNT_SID, key);
  made.verify.baseUrl = BASE_URL;
  return made;
}

async function outboxCode(to) {
  const answer = await fetch(`${BASE_URL}/dev/outbox?to=${encodeURIComponent(to)}`);
  const { messages } = await answer.json();
  return messages[0].text.match(/\b(\d{4,10})\b/)[1];
}

async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { status: error.status, code: error.code };
  }
}

function seen(resource) {
  return {
    sid: resource.sid,
    serviceSid: resource.serviceSid,
    accountSid: resource.accountSid,
    to: resource.to,
    channel: resource.channel,
    status: resource.status,
    valid: resource.valid,
    datesAreDates: resource.dateCreated instanceof Date && resource.dateUpdated instanceof Date,
    lineType: resource.lookup ? resource.lookup.carrier.type : undefined,
    sends: resource.sendCodeAttempts ? resource.sendCodeAttempts.length : undefined,
  };
}

async function main() {
  const service = client().verify.v2.services(env.OTP_SERVICE_SID);
  const [phone, other, third] = env.OTP_PHONES.split(",");
  const seenAll = {};

  const created = await service.verifications.create({ to: phone, channel: "sms" });
  seenAll.created = seen(created);
  seenAll.resent = seen(await service.verifications.create({ to: phone, channel: "sms" }));
  seenAll.wrong = seen(await service.verificationChecks.create({ to: phone, code: "000000" }));
  const code = await outboxCode(phone);
  seenAll.right = seen(
    await service.verificationChecks.create({ verificationSid: created.sid, code }),
  );
  seenAll.fetched = seen(await service.verifications(created.sid).fetch());

  const called = await service.verifications.create({ to: other, channel: "call" });
  seenAll.canceled = seen(await service.verifications(called.sid).update({ status: "canceled" }));
  seenAll.checkCanceled = await failure(
    service.verificationChecks.create({ to: other, code: await outboxCode(other) }),
  );

  await service.verifications.create({ to: third, channel: "sms" });
  seenAll.checks = [];
  for (let i = 0; i < 5; i += 1) {
    const check = await service.verificationChecks.create({ to: third, code: "000000" });
    seenAll.checks.push(check.status);
  }
  seenAll.pastTheLimit = await failure(
    service.verificationChecks.create({ to: third, code: "000000" }),
  );

  seenAll.badKey = await failure(
    client("not-the-key-0123456789abcdef")
      .verify.v2.services(env.OTP_SERVICE_SID)
      .verifications(created.sid)
      .fetch(),
  );
  seenAll.unknownService = await failure(
    client().verify.v2.services(`VA${"9d".repeat(16)}`).verifications(created.sid).fetch(),
  );
  console.log(JSON.stringify(seenAll));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
