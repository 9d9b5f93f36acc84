package emulator

// b2_set_bucket_notification_rules and b2_get_bucket_notification_rules
// (rules and their validation: store_notify.go; delivery: notify.go).

func init() {
	add := func(name string, fn func(*call) (any, error)) {
		op := &opDef{name: name, class: classC, fn: fn}
		opList = append(opList, op)
		opByName[name] = op
	}
	add("b2_set_bucket_notification_rules", opSetNotificationRules)
	add("b2_get_bucket_notification_rules", opGetNotificationRules)
}

func notifyReply(id string, rules []notifyRule) map[string]any {
	if rules == nil {
		rules = []notifyRule{}
	}
	return map[string]any{"bucketId": id, "eventNotificationRules": rules}
}

func opSetNotificationRules(c *call) (any, error) {
	t, p, err := c.authArgs("writeBucketNotifications")
	if err != nil {
		return nil, err
	}
	id, err := t.bucketArg(c.s.st, p)
	if err != nil {
		return nil, err
	}
	var reqs []notifyRuleReq
	if ok, err := p.decode("eventNotificationRules", &reqs); err != nil {
		return nil, err
	} else if !ok {
		return nil, errBadRequest("required field eventNotificationRules is missing ([] removes every rule)")
	}
	rules, err := parseNotifyRules(reqs)
	if err != nil {
		return nil, err
	}
	out, err := c.s.st.setNotifyRules(id, rules)
	if err != nil {
		return nil, err
	}
	return notifyReply(id, out), nil
}

func opGetNotificationRules(c *call) (any, error) {
	t, p, err := c.authArgs("readBucketNotifications")
	if err != nil {
		return nil, err
	}
	id, err := t.bucketArg(c.s.st, p)
	if err != nil {
		return nil, err
	}
	rules, err := c.s.st.notifyRules(id)
	if err != nil {
		return nil, err
	}
	return notifyReply(id, rules), nil
}
