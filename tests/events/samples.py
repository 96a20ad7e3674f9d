"""The documented sample bodies (reference part 2, 1.1-1.3), verbatim where the reference has them."""

TENCENT_BOUNCE = (
    '{"event":"bounce","eventid":3,"email":"u@example.com","bulkId":"qcloudses-30-2512...-8jolHvR2XcXC1",'
    '"timestamp":1654064683,"reason":"551 5.1.1 recipient is not exist","bounceType":"hard_bounce",'
    '"username":"251200670","from":"t@ex.com","fromDomain":"ex.com","templateId":123456,"subject":"s",'
    '"messageId":"ea27...@ex.com","sentTimestamp":1761555487,"X-Tencentcloudses-Cb-Custom":"ses callback"}'
)

DM_FAIL_DATA = (
    '{"header":{"X-Notify-Message-ID":"test****@****"},"env_id":"60000****","account":"batch****@top",'
    '"from":"batch****@top","rcpt":"xxx****@aliyun.com","msg_id":"1df****@****","channel_name":"bg:vip_*",'
    '"outbound_ip":"8.*.*.7","send_time":"2024-04-29T11:07:04","deliver_time":"2024-04-29T11:07:12",'
    '"status":"2","event":"dm:Deliver:Fail","region":"cn-hangzhou","err_code":"554",'
    '"err_msg":"554 RCPT ... dosn\'t exist","failed_type":"SmtpNxBox","esp":"*mail.com",'
    '"ip_pool_id":"10306c37-...","is_dedicated_ip":true,"tag":"xxxxx"}'
)

DM_FAIL = (
    '{"id":"45ef4dewdwe1-7c35-447a-bd93-fab****","source":"acs:dm","specversion":"1.0",'
    '"type":"dm:Deliver:Fail","subject":"acs:dm:cn-hangzhou:123456789098****:*",'
    '"time":"2024-04-29T11:07:12+08:00","aliyunaccountid":"123456789098****",'
    '"aliyuneventbusname":"default","aliyunregionid":"cn-hangzhou","aliyunpublishaddr":"10.*.*.*",'
    '"aliyunpublishtime":"2024-04-29T11:07:13.179PRC","data":' + DM_FAIL_DATA + "}"
)

DM_MNS = (
    "X-Notify-Message-ID=3121639760461820&env_id=12769055421&msg_id=<abc@example.com>&account=a@mail.example.com"
    "&from=a@mail.example.com&rcpt=ada@example.com&recv_time=2017-03-29 14:22:10"
)
