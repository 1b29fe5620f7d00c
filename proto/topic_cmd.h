/* topic_cmd.h: the commands the API sends to the topic manager over the bus (proto/command.h envelope),
 * shared by services/api (topics.c, mqs_data.c) and services/topic_worker (manager.c).
 *
 * Routing: every command goes to kind TOPIC_KIND, except msg.consume which goes to TOPIC_KIND_FETCH: a
 * long-poll may park its executor for up to 30 s, so it gets its own executor pool and a crowd of
 * waiting consumers can never delay topic creation or produce (both kinds are served by every
 * roma-topic-worker process).
 *
 * Bodies (JSON, carried as msgpack). The API has validated every field before sending; the manager
 * re-checks what the database constraints rely on.
 *
 *   topic.create  {instance_id, project_id, max_partitions, topic:{name, app_id, partition, replication,
 *                  access_policy, sync_message_flush, sync_replication, retention_time, tag, description,
 *                  sensitive_word}}                                   -> {name}
 *   topic.update  {instance_id, topics:[{name, retention_time?, sync_replication?, sync_message_flush?,
 *                  description?, sensitive_word?}]}                   -> {}   (all or nothing)
 *   topic.delete  {instance_id, names:[name...]}                      -> {topics:[{id:name, success:bool}]}
 *   topic.acl_set {instance_id, topics:[{name, policies:[{app_id, access_policy, owner, tag}],
 *                  description?, sensitive_word?}]}                   -> {}   (all or nothing)
 *   topic.acl_add {instance_id, name, policies:[{user_name(app key), access_policy, tag}]} -> {}
 *   topic.import  {instance_id, project_id, max_partitions, mode:"AddNew"|"Merge", prefix,
 *                  topics:[export item]}                              -> {created:n, updated:n}
 *   msg.produce   {topic:T, app_id, messages:[{content(JSON text), id}]}
 *                                                                     -> {results:[{ok, partition, offset}]}
 *   msg.consume   {topic:T, group, max_msgs, max_bytes, ack_wait_ms, wait_ms}
 *                                                                     -> {messages:[{p, o, g, content}]}
 *   msg.ack       {topic:T, group, acks:[{p, o, g, ok}]}              -> {acked}
 *   msg.query     {topic:T, start_ms?, end_ms?, partition?, offset?, key?, message_id?, tag?, asc,
 *                  limit, skip}                                       -> {total, messages:[Msg]}
 *   msg.resend    {topic:T, partition, offset, consumer_key?}         -> {partition, offset}
 * where T = {id, name, instance_id, partitions, retention_time, sync_message_flush}, as the API read it
 * from mqs_topics.
 *
 * Errors: reply->status is a negative ROMA_E* code and the body is
 *   {"http_status": 400, "error_code": "MQS.00400003", "error_msg": "..."}
 * which the API answers as it is (E-MQS shape). A reply without http_status is a server fault (500), and
 * a bus failure (no worker, worker lost, deadline) is a 503. */
#ifndef ROMA_TOPIC_CMD_H
#define ROMA_TOPIC_CMD_H

#define TOPIC_KIND "topic"
#define TOPIC_KIND_FETCH "topic-fetch"

#define TOPIC_CMD_CREATE "topic.create"
#define TOPIC_CMD_UPDATE "topic.update"
#define TOPIC_CMD_DELETE "topic.delete"
#define TOPIC_CMD_ACL_SET "topic.acl_set"
#define TOPIC_CMD_ACL_ADD "topic.acl_add"
#define TOPIC_CMD_IMPORT "topic.import"
#define TOPIC_CMD_PRODUCE "msg.produce"
#define TOPIC_CMD_CONSUME "msg.consume"
#define TOPIC_CMD_ACK "msg.ack"
#define TOPIC_CMD_QUERY "msg.query"
#define TOPIC_CMD_RESEND "msg.resend"

/* E-MQS error codes (the spec documents only the shape and the 400/403 statuses; the codes are ours,
 * in the MQS.00<status><nnn> pattern of services/api/http.c). */
#define MQS_E_BAD_PARAM "MQS.00400002"     /* 400 invalid parameter (http.c reply_bad_param) */
#define MQS_E_TOPIC_EXISTS "MQS.00400003"  /* 400 a topic of that name exists in the instance */
#define MQS_E_APP_NOT_FOUND "MQS.00400004" /* 400 the app does not exist in the instance */
#define MQS_E_QUOTA "MQS.00400005"         /* 400 partitions over the instance's max_partitions */
#define MQS_E_IMPORT "MQS.00400006"        /* 400 the import file is not a valid topic export */
#define MQS_E_MSG_NOT_FOUND "MQS.00400007" /* 400 no message at that partition/offset (resend) */
#define MQS_E_AUTH "MQS.00401001"          /* 401 data plane: app authentication failed */
#define MQS_E_NO_PUB "MQS.00403001"        /* 403 data plane: the app may not produce to the topic */
#define MQS_E_NO_SUB "MQS.00403002"        /* 403 data plane: the app may not consume from the topic */
#define MQS_E_TOPIC_NOT_FOUND "MQS.00404001" /* 404 no such topic */
#define MQS_E_INTERNAL "MQS.00500000"      /* 500 (http.c reply_internal) */
#define MQS_E_UNAVAILABLE "MQS.00503000"   /* 503 (http.c reply_unavailable) */

#endif
