/*
 * The Redis record contract's scripts: every Lua script that writes a
 * job's record, its deliveries and its audit trail, for tocsind and the
 * tocsin tool alike. Each script changes state and counts in one atomic
 * step, so the counts in <prefix>:job:{<id>} always add up to `planned`,
 * whatever moment a process dies at.
 */
#include "common/common.h"

/* A script is one string constant, and the longest (ACCEPT) is past the
 * 4095 bytes ISO C asks every compiler to take; gcc and clang, the
 * compilers tocsin builds with, take any length. */
#pragma GCC diagnostic ignored "-Woverlength-strings"

/* PLAN's step, shared with ACCEPT: plans the (id, channel, json) triples
 * of ARGV from `first` on, as call number `write` of pass `pass` (KEYS:
 * job record, deliveries, job events; ARGV[1]: now); acks is "" or, in an
 * escalation round, the root job's acknowledgements, spelled as keys.c
 * spells them. The member (member_key) of each new delivery on a channel
 * other than webhook joins the family's members, the root job's
 * <record>:members set, and a member new to it counts in the root
 * record's `members` (the measure of `confirmed` and of escalation's
 * stop_at), unless the root's record is gone. Returns per delivery:
 * "acked" for one not planned before whose member (member_key of its
 * json) acknowledged the root job or a round of it, so is not sent again
 * (every one, once the round stopped: its record has `stopped`),
 * "" for a new one (counted as planned and queued), "mine" for one this
 * very call planned before (a replay after a lost reply), "dup" for one
 * already planned in this pass or earlier in this call (a member listed
 * twice), or the stored JSON of one planned by an earlier pass (a restart
 * resumes it), which is claimed for this pass. */
#define LUA_PLAN_FN \
	"local function plan(pass, write, first, acks)\n" \
	"  local out, new, seen, joined = {}, {}, {}, 0\n" \
	"  local fam = acks ~= '' and string.sub(acks, 1, -6) or KEYS[1]\n" \
	"  local counting = redis.call('EXISTS', fam) == 1\n" \
	"  for i = first, #ARGV, 3 do\n" \
	"    local id, ch = ARGV[i], ARGV[i + 1]\n" \
	"    if seen[id] then\n" \
	"      out[#out + 1] = 'dup'\n" \
	"    elseif acks ~= '' and redis.call('HEXISTS', KEYS[2], id) == 0 and\n" \
	"        (redis.call('HEXISTS', KEYS[1], 'stopped') == 1 or\n" \
	"         redis.call('HEXISTS', acks,\n" \
	"           cjson.decode(ARGV[i + 2]).member_key or '') == 1) then\n" \
	"      out[#out + 1] = 'acked'\n" \
	"    elseif redis.call('HSETNX', KEYS[2], id, ARGV[i + 2]) == 1 then\n" \
	"      new[ch] = (new[ch] or 0) + 1\n" \
	"      local mk = counting and ch ~= 'webhook' and\n" \
	"        cjson.decode(ARGV[i + 2]).member_key\n" \
	"      if type(mk) == 'string' and\n" \
	"          redis.call('SADD', fam .. ':members', mk) == 1 then\n" \
	"        joined = joined + 1\n" \
	"      end\n" \
	"      redis.call('XADD', KEYS[3], '*', 'delivery', id, 'channel', ch,\n" \
	"        'state', 'queued', 'at', ARGV[1])\n" \
	"      out[#out + 1] = ''\n" \
	"    else\n" \
	"      local old = redis.call('HGET', KEYS[2], id)\n" \
	"      local d = cjson.decode(old)\n" \
	"      if d.pass == pass and d.plan == write then\n" \
	"        out[#out + 1] = 'mine'\n" \
	"      elseif d.pass == pass then\n" \
	"        out[#out + 1] = 'dup'\n" \
	"      else\n" \
	"        d.pass = pass\n" \
	"        d.plan = write\n" \
	"        redis.call('HSET', KEYS[2], id, cjson.encode(d))\n" \
	"        out[#out + 1] = old\n" \
	"      end\n" \
	"    end\n" \
	"    seen[id] = true\n" \
	"  end\n" \
	"  if joined > 0 then\n" \
	"    redis.call('HINCRBY', fam, 'members', joined)\n" \
	"    local ttl = redis.call('PTTL', fam)\n" \
	"    if ttl > 0 then redis.call('PEXPIRE', fam .. ':members', ttl) end\n" \
	"  end\n" \
	"  for ch, n in pairs(new) do\n" \
	"    redis.call('HINCRBY', KEYS[1], 'planned', n)\n" \
	"    redis.call('HINCRBY', KEYS[1], 'queued', n)\n" \
	"    redis.call('HINCRBY', KEYS[1], ch .. '.queued', n)\n" \
	"  end\n" \
	"  return out\n" \
	"end\n"

/* A job's count of each delivery state (common/names.c), written 0 on its
 * first pass (before anything is planned): a count reads 0, not nil,
 * before anything reaches its state. */
#define LUA_ZERO_COUNTS \
	"'queued', 0, 'sending', 0, 'sent', 0, 'retrying', 0, 'delivered', 0, " \
	"'undelivered', 0, 'acknowledged', 0, 'failed', 0, 'expired', 0, 'cancelled', 0"

/* KEYS: job record, deliveries, job events, <prefix>:scheduled, the job's
 * stream, the job's tombstone, the next escalation round's record (any
 * key when there is none), <prefix>:events (a new job's `accepted` event,
 * with the state it starts in: `sending` or `scheduled`). ARGV: now, job
 * id, entry ref, template, severity, incident, initial state, the job's JSON text (kept as field `job`, for `tocsin
 * dead retry` and for waking it), write, send_at (ms, 0 if none), now
 * (ms), group, entry id, the next escalation round's id ("" for none),
 * its job text, its send_at (ms), plan()'s acks, the root job's record
 * key and the policy's stop_at (percent; both "" unless the job is a
 * round), then the job's first deliveries as PLAN's triples, their
 * records made for pass 1. A round's first pass stops escalating (its
 * record gets `stopped`: it plans nothing and writes no next round) once
 * the root record's `confirmed` reaches stop_at percent of its `members`
 * (both counted for the whole family, see plan() and ACK), provided the
 * root job and the round before this one are done (their members all
 * counted).
 * The job's first pass, unless it was cancelled, also writes its next
 * escalation round, asleep until its send_at as tc_lua_wake expects
 * (recorded as the job's `escalation_next`), so no crash can lose it.
 * Returns {verdict, state,
 * pass[, planned]}: verdict "new", "resumed" (the same stream entry seen
 * before: a restart, or a job woken by tc_lua_wake) or "duplicate"
 * (another entry already used this job id, or its records expired and
 * left a tombstone); pass counts the times the job
 * was started, so PLAN can tell a restart's leftovers from a member listed
 * twice in this pass. On the first pass the deliveries are planned in the
 * same step (what PLAN would return for them): a new job costs one round
 * trip before it sends. On a later pass they are left for PLAN.
 * A job still waiting for send_at goes to sleep instead (state "asleep"):
 * scored by send_at in <prefix>:scheduled and its entry acknowledged, so
 * it holds no place in any tocsind's memory until tc_lua_wake writes it to
 * its stream again. A record that tc_lua_refuse left (the job was refused
 * before anything of it was sent) is replaced, as if there were none. */
const char tc_lua_accept[] = LUA_PLAN_FN
	"if redis.call('HEXISTS', KEYS[1], 'refused') == 1 then\n"
	"  redis.call('DEL', KEYS[1])\n"
	"end\n"
	"local cur = redis.call('HGET', KEYS[1], 'entry')\n"
	"if cur and cur ~= ARGV[3] then\n"
	"  return {'duplicate', redis.call('HGET', KEYS[1], 'state') or '', 0}\n"
	"end\n"
	"if not cur and redis.call('EXISTS', KEYS[6]) == 1 then\n"
	"  return {'duplicate', redis.call('HGET', KEYS[6], 'state') or '', 0}\n"
	"end\n"
	"local verdict = 'resumed'\n"
	"if not cur then\n"
	"  redis.call('HSET', KEYS[1], 'entry', ARGV[3], 'state', ARGV[7],\n"
	"    'template', ARGV[4], 'severity', ARGV[5], 'incident', ARGV[6],\n"
	"    'created_at', ARGV[1], 'planned', 0, 'job', ARGV[8])\n"
	"  redis.call('XADD', KEYS[8], 'MAXLEN', '~', 100000, '*', 'job', ARGV[2],\n"
	"    'entry', ARGV[3], 'event', 'accepted', 'state', ARGV[7], 'at', ARGV[1])\n"
	"  verdict = 'new'\n"
	"end\n"
	"local pass = redis.call('HINCRBY', KEYS[1], 'pass', 1)\n"
	"if pass == 1 then redis.call('HSET', KEYS[1], " LUA_ZERO_COUNTS ") end\n"
	"local state = redis.call('HGET', KEYS[1], 'state')\n"
	"if pass == 1 and ARGV[18] ~= '' then\n"
	"  local m = tonumber(redis.call('HGET', ARGV[18], 'members') or '0')\n"
	"  local c = tonumber(redis.call('HGET', ARGV[18], 'confirmed') or '0')\n"
	"  local n = tonumber(string.match(ARGV[2], '%.esc%.(%d+)$') or '1')\n"
	"  local before = ARGV[18]\n"
	"  if n > 1 then\n"
	"    before = string.sub(ARGV[18], 1, -2) .. '.esc.' .. (n - 1) .. '}'\n"
	"  end\n"
	"  if m > 0 and c * 100 >= tonumber(ARGV[19]) * m and\n"
	"      redis.call('HEXISTS', ARGV[18], 'done_at') == 1 and\n"
	"      redis.call('HEXISTS', before, 'done_at') == 1 then\n"
	"    redis.call('HSET', KEYS[1], 'stopped', ARGV[1])\n"
	"  end\n"
	"end\n"
	"if pass == 1 and ARGV[14] ~= '' and state ~= 'cancelled' and\n"
	"    redis.call('HEXISTS', KEYS[1], 'stopped') == 0 and\n"
	"    redis.call('EXISTS', KEYS[7]) == 0 then\n"
	"  redis.call('HSET', KEYS[7], 'entry', 'escalation', 'state', 'scheduled',\n"
	"    'template', ARGV[4], 'severity', ARGV[5], 'incident', ARGV[6],\n"
	"    'created_at', ARGV[1], 'planned', 0, 'job', ARGV[15])\n"
	"  redis.call('ZADD', KEYS[4], ARGV[16], ARGV[14])\n"
	"  redis.call('HSET', KEYS[1], 'escalation_next', ARGV[14])\n"
	"end\n"
	"if state == 'scheduled' and tonumber(ARGV[10]) > tonumber(ARGV[11]) then\n"
	"  redis.call('ZADD', KEYS[4], ARGV[10], ARGV[2])\n"
	"  redis.call('XACK', KEYS[5], ARGV[12], ARGV[13])\n"
	"  return {verdict, 'asleep', pass}\n"
	"end\n"
	"if pass == 1 and #ARGV >= 20 then\n"
	"  return {verdict, state, pass, plan(1, tonumber(ARGV[9]), 20, ARGV[17])}\n"
	"end\n"
	"return {verdict, state, pass}\n";

/* KEYS: <prefix>:scheduled. ARGV: now (ms), prefix, the most to wake.
 * Wakes the jobs whose send_at came: each that is still `scheduled` is
 * written to its stream again (its record's `job` text, a new entry that
 * becomes the record's `entry`), so intake takes it up like any job and
 * the instance that reads it sends it; a cancelled one is only dropped.
 * Returns {jobs woken, the next send_at in ms or ""}. Job keys are spelled
 * here as keys.c spells them: <prefix>:job:{<id>}, <prefix>:jobs:<severity>. */
const char tc_lua_wake[] =
	"local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],\n"
	"  'LIMIT', 0, tonumber(ARGV[3]))\n"
	"local woken = 0\n"
	"for _, id in ipairs(due) do\n"
	"  redis.call('ZREM', KEYS[1], id)\n"
	"  local key = ARGV[2] .. ':job:{' .. id .. '}'\n"
	"  if redis.call('HGET', key, 'state') == 'scheduled' then\n"
	"    local sev = redis.call('HGET', key, 'severity')\n"
	"    local e = redis.call('XADD', ARGV[2] .. ':jobs:' .. sev, '*', 'job',\n"
	"      redis.call('HGET', key, 'job'))\n"
	"    redis.call('HSET', key, 'entry', sev .. '/' .. e)\n"
	"    woken = woken + 1\n"
	"  end\n"
	"end\n"
	"local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
	"return {woken, nxt[2] or ''}\n";

/* KEYS: job record, deliveries, job events, retry set, dead letters. ARGV:
 * now, job id, pass, write (this call's number in the pass), plan()'s
 * acks, then per delivery (id, channel, json, whose `plan` is the write
 * number). Returns what plan() says of each. */
const char tc_lua_plan[] = LUA_PLAN_FN
	"return plan(tonumber(ARGV[3]), tonumber(ARGV[4]), 6, ARGV[5])\n";

/* A member's acknowledgement counted in the family's share: acks is the
 * root job's `<record>:acks`; the root record's `confirmed` goes up when
 * the member is one of the family's members (`<record>:members`, see
 * plan()). Shared by ACK and by MOVE, which applies an acknowledgement
 * that came before the send was recorded. */
#define LUA_CONFIRM_FN \
	"local function confirm(acks, mk)\n" \
	"  local fam = string.sub(acks, 1, -6)\n" \
	"  if redis.call('SISMEMBER', fam .. ':members', mk) == 1 and\n" \
	"      redis.call('EXISTS', fam) == 1 then\n" \
	"    redis.call('HINCRBY', fam, 'confirmed', 1)\n" \
	"  end\n" \
	"end\n"

/* KEYS: job record, deliveries, job events, retry set, dead letters.
 * ARGV: now, job id, write (pass * 2^32 + this call's number in the pass),
 * then per transition (id, channel, from, to, json, outcome, due, reasons);
 * an empty from and json leave the record and the counts as they are (a
 * first attempt's move to `sending`, which the audit trail alone keeps:
 * the counts are the tally of the records, whatever was resumed).
 * A call whose number is not above the job's `moved` was applied before
 * (a replay after a lost reply) and changes nothing. The counts move by the sum of a batch's
 * transitions and the delivery records are written with one HSET; the
 * audit trail keeps one entry per transition. A delivery that goes to
 * `retrying` is added to the retry set at `due` (ms), and leaves it with
 * its next transition; `reasons` (every attempt's outcome) dead-letters a
 * delivery whose retries are exhausted. A move to `sent` takes the
 * delivery's pending receipt (<job>:receipts, kept by RECEIPT when it
 * came before the send was recorded) and goes on to its state at once, so
 * the late `sent` never undoes it; a move to `sent`, `delivered` or
 * `undelivered` then takes a pending acknowledgement (ack:<id>, kept by
 * ACK) and records it as ACK would have, unless the member acknowledged
 * otherwise meanwhile. */
const char tc_lua_move[] = LUA_CONFIRM_FN
	"local write = tonumber(ARGV[3])\n"
	"if write <= tonumber(redis.call('HGET', KEYS[1], 'moved') or '0') then\n"
	"  return 0\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'moved', ARGV[3])\n"
	"local delta, fields = {}, {}\n"
	"local function add(k, n) delta[k] = (delta[k] or 0) + n end\n"
	"local early = KEYS[1] .. ':receipts'\n"
	"local has_early = redis.call('EXISTS', early) == 1\n"
	"for i = 4, #ARGV, 8 do\n"
	"  local id, ch, from, to = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]\n"
	"  local json = ARGV[i + 4]\n"
	"  redis.call('XADD', KEYS[3], '*', 'delivery', id, 'channel', ch,\n"
	"    'state', to, 'outcome', ARGV[i + 5], 'at', ARGV[1])\n"
	"  if has_early and to == 'sent' and json ~= '' then\n"
	"    local p = redis.call('HGET', early, id)\n"
	"    if p then\n"
	"      local r, d = cjson.decode(p), cjson.decode(json)\n"
	"      d.state = r.state\n"
	"      d.last_outcome = r.outcome\n"
	"      d.receipt_at = r.at\n"
	"      json = cjson.encode(d)\n"
	"      to = r.state\n"
	"      redis.call('HDEL', early, id)\n"
	"      redis.call('XADD', KEYS[3], '*', 'delivery', id, 'channel', ch,\n"
	"        'state', to, 'outcome', r.outcome, 'at', ARGV[1], 'receipt_at', r.at)\n"
	"    end\n"
	"  end\n"
	"  if has_early and (to == 'sent' or to == 'delivered' or to == 'undelivered')\n"
	"      and json ~= '' then\n"
	"    local p = redis.call('HGET', early, 'ack:' .. id)\n"
	"    if p then\n"
	"      local a, d = cjson.decode(p), cjson.decode(json)\n"
	"      local mk = d.member_key or ('delivery:' .. id)\n"
	"      redis.call('HDEL', early, 'ack:' .. id)\n"
	"      if redis.call('HEXISTS', a.acks, mk) == 0 then\n"
	"        d.state = 'acknowledged'\n"
	"        d.acknowledged_at = a.at\n"
	"        d.updated_at = ARGV[1]\n"
	"        if a.n > 0 then\n"
	"          d.response = a.response\n"
	"          add('response:' .. a.n, 1)\n"
	"        end\n"
	"        json = cjson.encode(d)\n"
	"        to = 'acknowledged'\n"
	"        redis.call('HSET', a.acks, mk, cjson.encode({delivery = id, channel = ch,\n"
	"          response = a.response, at = a.at}))\n"
	"        confirm(a.acks, mk)\n"
	"        local ttl = redis.call('PTTL', KEYS[1])\n"
	"        if ttl > 0 then redis.call('PEXPIRE', a.acks, ttl) end\n"
	"        redis.call('XADD', KEYS[3], '*', 'delivery', id, 'channel', ch,\n"
	"          'state', to, 'response', a.response, 'at', a.at)\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  if json ~= '' then\n"
	"    fields[#fields + 1] = id\n"
	"    fields[#fields + 1] = json\n"
	"  end\n"
	"  if from ~= '' then\n"
	"    add(from, -1)\n"
	"    add(to, 1)\n"
	"    add(ch .. '.' .. from, -1)\n"
	"    add(ch .. '.' .. to, 1)\n"
	"  end\n"
	"  if from == 'retrying' then redis.call('ZREM', KEYS[4], id) end\n"
	"  if to == 'retrying' then\n"
	"    redis.call('ZADD', KEYS[4], ARGV[i + 6], id)\n"
	"  end\n"
	"  if ARGV[i + 7] ~= '' then\n"
	"    redis.call('XADD', KEYS[5], '*', 'kind', 'delivery', 'job', ARGV[2],\n"
	"      'delivery', id, 'channel', ch, 'record', ARGV[i + 4],\n"
	"      'reason', ARGV[i + 7], 'at', ARGV[1])\n"
	"  end\n"
	"end\n"
	"if #fields > 0 then redis.call('HSET', KEYS[2], unpack(fields)) end\n"
	"for k, n in pairs(delta) do\n"
	"  if n ~= 0 then redis.call('HINCRBY', KEYS[1], k, n) end\n"
	"end\n"
	"return (#ARGV - 3) / 8\n";

/* The end of a finished job's keys, shared by FINISH and CANCEL: its
 * record, deliveries and audit trail expire ttl ms from now
 * (dispatcher.retention), and its tombstone, written now, outlives them by
 * as long again (tomb_ttl = 2 * ttl): state st, done_at, expired_at (when
 * the keys go) and planned. Doing this in the finishing step itself means
 * no finished job is ever left without an expiry. */
#define LUA_RETAIN_FN \
	"local function retain(job, dlv, ev, tomb, st, done_at, ttl, tomb_ttl,\n" \
	"                      expired_at)\n" \
	"  redis.call('PEXPIRE', job, ttl)\n" \
	"  redis.call('PEXPIRE', dlv, ttl)\n" \
	"  redis.call('PEXPIRE', ev, ttl)\n" \
	"  redis.call('PEXPIRE', job .. ':acks', ttl)\n" \
	"  redis.call('PEXPIRE', job .. ':members', ttl)\n" \
	"  redis.call('PEXPIRE', job .. ':receipts', ttl)\n" \
	"  redis.call('HSET', tomb, 'state', st, 'done_at', done_at,\n" \
	"    'expired_at', expired_at,\n" \
	"    'planned', redis.call('HGET', job, 'planned') or '0')\n" \
	"  redis.call('PEXPIRE', tomb, tomb_ttl)\n" \
	"end\n"

/* KEYS: job record, job stream, <prefix>:events, job events, deliveries,
 * tombstone. ARGV: group, entry id, now, job id, and (or "" when this pass
 * did not go through the audience) the members reached on no channel and
 * the roster rows skipped, then retain()'s ttl, tomb_ttl and expired_at.
 * Marks the job done (or leaves it cancelled, if an operator cancelled it),
 * acknowledges its entry, tells the watchers and sets its keys to expire,
 * in one step. */
const char tc_lua_finish[] = LUA_RETAIN_FN
	"if ARGV[5] ~= '' then\n"
	"  redis.call('HSET', KEYS[1], 'unreachable', ARGV[5], 'roster_errors', ARGV[6])\n"
	"end\n"
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if st ~= 'cancelled' then st = 'done' end\n"
	"redis.call('HSET', KEYS[1], 'state', st, 'done_at', ARGV[3])\n"
	"redis.call('XADD', KEYS[4], '*', 'job', ARGV[4], 'state', st, 'at', ARGV[3])\n"
	"redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])\n"
	"redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'job', ARGV[4],\n"
	"  'event', st, 'at', ARGV[3])\n"
	"retain(KEYS[1], KEYS[5], KEYS[4], KEYS[6], st, ARGV[3], ARGV[7], ARGV[8],\n"
	"  ARGV[9])\n"
	"return st\n";

/* KEYS: <prefix>:dead, job stream, <prefix>:events. ARGV: group, entry id,
 * stream name, job id or "", reason, the job text (cut), now, event.
 * Dead-letters an entry and acknowledges it in one step, so a rejected job
 * is never lost between the two. */
const char tc_lua_dead[] =
	"redis.call('XADD', KEYS[1], '*', 'kind', 'job', 'stream', ARGV[3],\n"
	"  'entry', ARGV[2], 'job', ARGV[4], 'reason', ARGV[5], 'body', ARGV[6],\n"
	"  'at', ARGV[7])\n"
	"redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])\n"
	"redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'job', ARGV[4],\n"
	"  'entry', ARGV[3] .. '/' .. ARGV[2], 'event', ARGV[8], 'reason', ARGV[5],\n"
	"  'at', ARGV[7])\n"
	"return 1\n";

/* KEYS: job record, job stream, <prefix>:events, job events, <prefix>:dead.
 * ARGV: group, entry id, entry ("<severity>/<entry id>"), now, job id,
 * reason, severity, template, incident, the job text (cut), ttl (ms).
 * Refuses a job over a channel's budget before anything of it was sent, in
 * one step: its record says `done` with `refused` (the reason) and
 * `planned` 0, and expires after ttl like a finished job's; it is
 * dead-lettered (so `tocsin dead retry` sends it again, once the budget
 * allows), its entry acknowledged, the watchers told. A record that is
 * neither refused nor this entry's, asleep until now, belongs to a job
 * accepted meanwhile: nothing is written. Returns "refused" or
 * "duplicate". */
const char tc_lua_refuse[] =
	"local cur = redis.call('HGET', KEYS[1], 'entry')\n"
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if cur and redis.call('HEXISTS', KEYS[1], 'refused') == 0 and\n"
	"    not (cur == ARGV[3] and st == 'scheduled') then\n"
	"  return 'duplicate'\n"
	"end\n"
	"local created = redis.call('HGET', KEYS[1], 'created_at') or ARGV[4]\n"
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('HSET', KEYS[1], 'entry', ARGV[3], 'state', 'done',\n"
	"  'template', ARGV[8], 'severity', ARGV[7], 'incident', ARGV[9],\n"
	"  'created_at', created, 'done_at', ARGV[4], 'planned', 0,\n"
	"  'job', ARGV[10], 'refused', ARGV[6])\n"
	"redis.call('XADD', KEYS[4], '*', 'job', ARGV[5], 'state', 'done',\n"
	"  'refused', ARGV[6], 'at', ARGV[4])\n"
	"redis.call('PEXPIRE', KEYS[1], ARGV[11])\n"
	"redis.call('PEXPIRE', KEYS[4], ARGV[11])\n"
	"redis.call('XADD', KEYS[5], '*', 'kind', 'job', 'stream', ARGV[7],\n"
	"  'entry', ARGV[2], 'job', ARGV[5], 'reason', ARGV[6], 'body', ARGV[10],\n"
	"  'at', ARGV[4])\n"
	"redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])\n"
	"redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'job', ARGV[5],\n"
	"  'entry', ARGV[3], 'event', 'refused', 'reason', ARGV[6], 'at', ARGV[4])\n"
	"return 'refused'\n";

/* KEYS: job record, job events, <prefix>:events, <prefix>:scheduled,
 * deliveries, tombstone. ARGV: now, job id, then retain()'s ttl, tomb_ttl
 * and expired_at.
 * Returns {verdict, detail}: {"none", ""} without a record, {"done",
 * done_at} or {"cancelled", cancelled_at} when there was nothing to do,
 * {"now", previous state} when this call cancelled it. A job asleep
 * until its send_at (no tocsind holds it) leaves <prefix>:scheduled and is
 * finished here: its record gets done_at and its keys expire (a running
 * job's do when its tocsind finishes it). */
const char tc_lua_cancel[] = LUA_RETAIN_FN
	"if redis.call('EXISTS', KEYS[1]) == 0 then return {'none', ''} end\n"
	"local st = redis.call('HGET', KEYS[1], 'state') or ''\n"
	"if st == 'done' then\n"
	"  return {'done', redis.call('HGET', KEYS[1], 'done_at') or ''}\n"
	"end\n"
	"if st == 'cancelled' then\n"
	"  return {'cancelled', redis.call('HGET', KEYS[1], 'cancelled_at') or ''}\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancelled_at', ARGV[1])\n"
	"redis.call('XADD', KEYS[2], '*', 'job', ARGV[2], 'state', 'cancelled',\n"
	"  'at', ARGV[1])\n"
	"redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'job', ARGV[2],\n"
	"  'event', 'cancelled', 'at', ARGV[1])\n"
	"if redis.call('ZREM', KEYS[4], ARGV[2]) == 1 then\n"
	"  redis.call('HSET', KEYS[1], 'done_at', ARGV[1])\n"
	"  retain(KEYS[1], KEYS[5], KEYS[2], KEYS[6], 'cancelled', ARGV[1], ARGV[3],\n"
	"    ARGV[4], ARGV[5])\n"
	"end\n"
	"return {'now', st}\n";

/* KEYS: <prefix>:dead, the jobs stream. ARGV: dead entry id, job text.
 * Writes the job and removes the dead letter in one step. Returns the new
 * entry id, or nil when the dead letter is gone (retried or purged by
 * someone else meanwhile). */
const char tc_lua_requeue[] =
	"if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end\n"
	"local id = redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])\n"
	"redis.call('XDEL', KEYS[1], ARGV[1])\n"
	"return id\n";

/* KEYS: job record, deliveries, job events. ARGV: now, delivery id, the
 * new state, outcome, the states it may come from (space-separated),
 * provider, provider message id (both "" to keep the record's). Moves one
 * delivery on by its id alone, whether or not a tocsind works on its job
 * (a receipt, an acknowledgement, after the job is done too): only from a
 * state tocsind no longer holds in memory, so it never races a running
 * job's MOVE, and the counts move with the record, so they still add up.
 * Returns {"moved", old state}, {"skipped", current state} when the
 * delivery is in another state, or {"none", ""} when there is no such
 * delivery. */
const char tc_lua_settle[] =
	"local raw = redis.call('HGET', KEYS[2], ARGV[2])\n"
	"if not raw then return {'none', ''} end\n"
	"local d = cjson.decode(raw)\n"
	"local from = d.state\n"
	"local ok = false\n"
	"for s in string.gmatch(ARGV[5], '%S+') do\n"
	"  if s == from then ok = true end\n"
	"end\n"
	"if not ok then return {'skipped', from} end\n"
	"d.state = ARGV[3]\n"
	"d.last_outcome = ARGV[4]\n"
	"d.updated_at = ARGV[1]\n"
	"if ARGV[6] ~= '' then d.provider = ARGV[6] end\n"
	"if ARGV[7] ~= '' then d.provider_message_id = ARGV[7] end\n"
	"redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(d))\n"
	"redis.call('HINCRBY', KEYS[1], from, -1)\n"
	"redis.call('HINCRBY', KEYS[1], ARGV[3], 1)\n"
	"redis.call('HINCRBY', KEYS[1], d.channel .. '.' .. from, -1)\n"
	"redis.call('HINCRBY', KEYS[1], d.channel .. '.' .. ARGV[3], 1)\n"
	"redis.call('XADD', KEYS[3], '*', 'delivery', ARGV[2], 'channel', d.channel,\n"
	"  'state', ARGV[3], 'outcome', ARGV[4], 'at', ARGV[1])\n"
	"return {'moved', from}\n";

/* KEYS: job record, deliveries, job events, tombstone. ARGV: now,
 * delivery id, state (sent, delivered or undelivered), outcome, provider,
 * provider message id. Applies a provider's receipt, whether or not a
 * tocsind works on the job, after it is done too. States rank sent <
 * undelivered < delivered: a receipt only ever moves a delivery up
 * (`delivered` then a late `sent` or `failed` keeps `delivered`; the same
 * receipt twice changes nothing). A delivery in `sent`, `undelivered` or
 * `delivered` (states tocsind no longer holds, so this never races a
 * running job's MOVE) moves at once, its counts with it. One still
 * `queued`, `sending` or `retrying` (the receipt came before the send was
 * recorded) keeps the receipt pending in <job>:receipts, the strongest
 * one, and MOVE applies it with the `sent`. Any other state
 * (acknowledged, failed, expired, cancelled) stays. Returns {"moved",
 * old state}, {"pending", state}, {"skipped", state}, {"expired",
 * expired_at} or {"none", ""}. */
const char tc_lua_receipt[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then\n"
	"  if redis.call('EXISTS', KEYS[4]) == 1 then\n"
	"    return {'expired', redis.call('HGET', KEYS[4], 'expired_at') or ''}\n"
	"  end\n"
	"  return {'none', ''}\n"
	"end\n"
	"local raw = redis.call('HGET', KEYS[2], ARGV[2])\n"
	"if not raw then return {'none', ''} end\n"
	"local rank = {sent = 1, undelivered = 2, delivered = 3}\n"
	"local d = cjson.decode(raw)\n"
	"local from, to = d.state, ARGV[3]\n"
	"if from == 'queued' or from == 'sending' or from == 'retrying' then\n"
	"  local k = KEYS[1] .. ':receipts'\n"
	"  local p = redis.call('HGET', k, ARGV[2])\n"
	"  if to == 'sent' or (p and rank[cjson.decode(p).state] >= rank[to]) then\n"
	"    return {'skipped', from}\n"
	"  end\n"
	"  redis.call('HSET', k, ARGV[2], cjson.encode({state = to, outcome = ARGV[4],\n"
	"    at = ARGV[1], provider_message_id = ARGV[6]}))\n"
	"  local ttl = redis.call('PTTL', KEYS[1])\n"
	"  if ttl > 0 then redis.call('PEXPIRE', k, ttl) end\n"
	"  return {'pending', from}\n"
	"end\n"
	"if not rank[from] or rank[to] <= rank[from] then return {'skipped', from} end\n"
	"d.state = to\n"
	"d.last_outcome = ARGV[4]\n"
	"d.updated_at = ARGV[1]\n"
	"d.receipt_at = ARGV[1]\n"
	"if ARGV[5] ~= '' then d.provider = ARGV[5] end\n"
	"if ARGV[6] ~= '' then d.provider_message_id = ARGV[6] end\n"
	"redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(d))\n"
	"redis.call('HINCRBY', KEYS[1], from, -1)\n"
	"redis.call('HINCRBY', KEYS[1], to, 1)\n"
	"redis.call('HINCRBY', KEYS[1], d.channel .. '.' .. from, -1)\n"
	"redis.call('HINCRBY', KEYS[1], d.channel .. '.' .. to, 1)\n"
	"redis.call('XADD', KEYS[3], '*', 'delivery', ARGV[2], 'channel', d.channel,\n"
	"  'state', to, 'outcome', ARGV[4], 'at', ARGV[1])\n"
	"return {'moved', from}\n";

/* KEYS: <prefix>:dead, <prefix>:events, then job streams. ARGV: group,
 * consumer, now, the most elements of an entry's field list, the most an
 * entry may cost, what one object costs (TC_LIMIT_REDIS_ARRAY,
 * TC_LIMIT_REDIS_ENTRY, TC_REDIS_OBJ_COST: counted as tocsind counts a
 * reply), the bytes of a `job` field kept (TC_LIMIT_JOB_BYTES), how many
 * pending entries of each stream to look at, then the stream names of the
 * keys (severities). Measures each entry pending for consumer inside Redis
 * and dead-letters, as DEAD does and with the same event, those too large
 * for tocsind to read: their text never leaves Redis but for the start of
 * a `job` field. Returns {stream, entry id, fields, bytes} for each. */
const char tc_lua_sweep[] =
	"local max_n, max_cost = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
	"local obj, cut, look = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])\n"
	"local out = {}\n"
	"for k = 3, #KEYS do\n"
	"  local stream = ARGV[6 + k]\n"
	"  local pending = redis.call('XPENDING', KEYS[k], ARGV[1], '-', '+', look, ARGV[2])\n"
	"  for _, p in ipairs(pending) do\n"
	"    local e = redis.call('XRANGE', KEYS[k], p[1], p[1])\n"
	"    local f = e[1] and e[1][2] or {}\n"
	"    local n, cost, body = #f, obj + 8 * #f, ''\n"
	"    for i = 1, n do cost = cost + obj + #f[i] end\n"
	"    if n > max_n or cost > max_cost then\n"
	"      for i = 1, n - 1, 2 do\n"
	"        if f[i] == 'job' then body = string.sub(f[i + 1], 1, cut) break end\n"
	"      end\n"
	"      local reason = string.format('entry too large to read: %d fields, %d bytes '\n"
	"        .. 'as tocsind counts them (at most %d fields and %d bytes)',\n"
	"        math.floor(n / 2), cost, math.floor(max_n / 2), max_cost)\n"
	"      redis.call('XADD', KEYS[1], '*', 'kind', 'job', 'stream', stream,\n"
	"        'entry', p[1], 'job', '', 'reason', reason, 'body', body, 'at', ARGV[3])\n"
	"      redis.call('XACK', KEYS[k], ARGV[1], p[1])\n"
	"      redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', 'job', '',\n"
	"        'entry', stream .. '/' .. p[1], 'event', 'invalid', 'reason', reason,\n"
	"        'at', ARGV[3])\n"
	"      out[#out + 1] = {stream, p[1], math.floor(n / 2), cost}\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return out\n";

/* The start of ACK and ACK_VIEW (KEYS: job record, deliveries, acks,
 * tombstone, ...; ARGV[1]: delivery id): the delivery's record and its
 * member's acknowledgement, or the answer that there is nothing to look
 * at ({"expired", expired_at} when only the tombstone is left, {"none",
 * ""} when there is no such job or delivery). A record written before
 * records had member_key counts as its own member. */
#define LUA_ACK_LOOKUP \
	"if redis.call('EXISTS', KEYS[1]) == 0 then\n" \
	"  if redis.call('EXISTS', KEYS[4]) == 1 then\n" \
	"    return {'expired', redis.call('HGET', KEYS[4], 'expired_at') or ''}\n" \
	"  end\n" \
	"  return {'none', ''}\n" \
	"end\n" \
	"local raw = redis.call('HGET', KEYS[2], ARGV[1])\n" \
	"if not raw then return {'none', ''} end\n" \
	"local d = cjson.decode(raw)\n" \
	"local mk = d.member_key or ('delivery:' .. ARGV[1])\n" \
	"local prev = redis.call('HGET', KEYS[3], mk) or ''\n"

/* KEYS: job record, deliveries, acks, tombstone. ARGV: delivery id.
 * What the acknowledgement page shows, changing nothing (a link scanner's
 * GET): {"ok", the job's text, incident, member name, channel, the
 * member's acknowledgement or ""}. */
const char tc_lua_ack_view[] = LUA_ACK_LOOKUP
	"return {'ok', redis.call('HGET', KEYS[1], 'job') or '',\n"
	"  redis.call('HGET', KEYS[1], 'incident') or '', d.member or '',\n"
	"  d.channel or '', prev}\n";

/* KEYS: job record, deliveries, acks, tombstone, job events. ARGV:
 * delivery id, now, response ("" for none). Records a member's
 * acknowledgement, once per job whatever the channel: the delivery moves
 * to `acknowledged` (with acknowledged_at and response) from `sent`,
 * `delivered` or `undelivered` (states tocsind no longer holds, so it
 * never races a running job's MOVE), its counts move with it, the
 * answer's count `response:<n>` (n its place in the job's responses, from
 * 1) goes up, and the member's acknowledgement is kept in acks (expiring
 * with the job's keys, when they already do). acks is the root job's in a
 * round (the family's); the root record's `confirmed` counts the member
 * when they are one of the family's members (see plan()). An
 * acknowledgement that overtook the tracker's write of the send (the
 * delivery still `queued`, `sending` or `retrying`: the member answered
 * before tocsind recorded handing the message over) is kept as
 * `ack:<delivery id>` in the job's pending hash (<job record>:receipts;
 * the first answer per delivery, with the acks key to write), and the MOVE
 * that records the send takes it. Returns {"moved", old state}, {"pending",
 * state}, {"already", the acknowledgement kept}, {"response", ""} when the
 * response is not one of the job's (or given without any), {"state",
 * current state} when the delivery cannot be acknowledged now, or what
 * the lookup returns. */
const char tc_lua_ack[] = LUA_CONFIRM_FN LUA_ACK_LOOKUP
	"if prev ~= '' then return {'already', prev} end\n"
	"local job = cjson.decode(redis.call('HGET', KEYS[1], 'job') or '{}')\n"
	"local n = 0\n"
	"if type(job.responses) == 'table' then\n"
	"  for i, label in ipairs(job.responses) do\n"
	"    if label == ARGV[3] then n = i end\n"
	"  end\n"
	"  if n == 0 then return {'response', ''} end\n"
	"elseif ARGV[3] ~= '' then\n"
	"  return {'response', ''}\n"
	"end\n"
	"local from = d.state\n"
	"if from == 'queued' or from == 'sending' or from == 'retrying' then\n"
	"  local k = KEYS[1] .. ':receipts'\n"
	"  redis.call('HSETNX', k, 'ack:' .. ARGV[1], cjson.encode({response = ARGV[3],\n"
	"    n = n, at = ARGV[2], acks = KEYS[3]}))\n"
	"  local ttl = redis.call('PTTL', KEYS[1])\n"
	"  if ttl > 0 then redis.call('PEXPIRE', k, ttl) end\n"
	"  return {'pending', from}\n"
	"end\n"
	"if from ~= 'sent' and from ~= 'delivered' and from ~= 'undelivered' then\n"
	"  return {'state', from}\n"
	"end\n"
	"d.state = 'acknowledged'\n"
	"d.acknowledged_at = ARGV[2]\n"
	"d.updated_at = ARGV[2]\n"
	"if n > 0 then d.response = ARGV[3] end\n"
	"redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(d))\n"
	"redis.call('HINCRBY', KEYS[1], from, -1)\n"
	"redis.call('HINCRBY', KEYS[1], 'acknowledged', 1)\n"
	"redis.call('HINCRBY', KEYS[1], d.channel .. '.' .. from, -1)\n"
	"redis.call('HINCRBY', KEYS[1], d.channel .. '.acknowledged', 1)\n"
	"if n > 0 then redis.call('HINCRBY', KEYS[1], 'response:' .. n, 1) end\n"
	"redis.call('HSET', KEYS[3], mk, cjson.encode({delivery = ARGV[1],\n"
	"  channel = d.channel, response = ARGV[3], at = ARGV[2]}))\n"
	"local ttl = redis.call('PTTL', KEYS[1])\n"
	"if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end\n"
	"confirm(KEYS[3], mk)\n"
	"redis.call('XADD', KEYS[5], '*', 'delivery', ARGV[1], 'channel', d.channel,\n"
	"  'state', 'acknowledged', 'response', ARGV[3], 'at', ARGV[2])\n"
	"return {'moved', from}\n";

/* KEYS: <prefix>:phone:{<E.164>}. ARGV: job id, delivery id, the key's
 * time to live (ms). Points the number at the SMS about to be handed to a
 * provider, before its request goes out, so that no reply can come before
 * the pointer does; the pointer it replaces is kept after it
 * ("<job>/<delivery>\n<job>/<delivery>"), for when this send fails (a
 * retry of the same send keeps both). */
const char tc_lua_phone[] =
	"local ref = ARGV[1] .. '/' .. ARGV[2]\n"
	"local old = redis.call('GET', KEYS[1])\n"
	"local value = ref\n"
	"if old then\n"
	"  local first = string.match(old, '^[^\\n]*')\n"
	"  if first == ref then value = old else value = ref .. '\\n' .. first end\n"
	"end\n"
	"redis.call('SET', KEYS[1], value, 'PX', ARGV[3])\n"
	"return 1\n";

/* KEYS: <prefix>:phone:{<E.164>}. ARGV: prefix, the reply's text. Finds
 * the delivery an SMS reply answers: the latest SMS handed to a provider
 * for the number (tc_lua_phone), or the one before it when that send
 * ended without reaching the member (failed, expired, cancelled); with
 * the job's responses, also the option whose number (from 1) the reply
 * is. Returns {"ok", job id, delivery id, label ("" without responses)},
 * {"response", job id, delivery id} when the job has responses and the
 * reply is none of their numbers, or {"none"} when no delivery is known
 * for the number (or its job is gone). The ACK script then records it.
 * Job keys are spelled as keys.c spells them. */
const char tc_lua_reply[] =
	"local refs = redis.call('GET', KEYS[1])\n"
	"if not refs then return {'none'} end\n"
	"local gone = {failed = true, expired = true, cancelled = true}\n"
	"local job, dlv, text\n"
	"for ref in string.gmatch(refs, '[^\\n]+') do\n"
	"  job, dlv = string.match(ref, '^(.*)/([^/]*)$')\n"
	"  local k = job and (ARGV[1] .. ':job:{' .. job .. '}')\n"
	"  text = k and redis.call('HGET', k, 'job')\n"
	"  local raw = text and redis.call('HGET', k .. ':deliveries', dlv)\n"
	"  if raw and not gone[cjson.decode(raw).state] then break end\n"
	"  text = nil\n"
	"end\n"
	"if not text then return {'none'} end\n"
	"local j = cjson.decode(text)\n"
	"if type(j.responses) == 'table' and #j.responses > 0 then\n"
	"  local n = tonumber(string.match(ARGV[2], '^%s*(%d+)%s*$') or '')\n"
	"  if not n or n < 1 or n > #j.responses then return {'response', job, dlv} end\n"
	"  return {'ok', job, dlv, j.responses[n]}\n"
	"end\n"
	"return {'ok', job, dlv, ''}\n";
