package planner

// markSensitive marks the attributes that config found derived from sensitive values
// (config.Bucket.Sensitive, config.Key.Sensitive), before and after, and drops their values
// from the attribute lists, so that no rendering of the plan can show them.
func (pl *planner) markSensitive() {
	sens := map[string][]string{}
	for _, b := range pl.d.Buckets {
		if len(b.Sensitive) > 0 {
			sens[b.Address] = b.Sensitive
		}
	}
	for _, k := range pl.d.Keys {
		if len(k.Sensitive) > 0 {
			sens[k.Address] = k.Sensitive
		}
	}
	if len(sens) == 0 {
		return
	}
	for _, ch := range pl.p.Changes {
		for _, name := range sens[ch.Address] {
			markAttr(ch.Before, name)
			markAttr(ch.After, name)
		}
	}
}

func markAttr(list []Attr, name string) {
	for i := range list {
		if list[i].Name == name {
			list[i] = Attr{Name: name, Sensitive: true}
		}
	}
}
