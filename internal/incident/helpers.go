package incident

import "strings"

// derived holds the views of an incident's evidence that rule helpers return.
// It is computed once per Incident, on first use.
type derived struct {
	devices    []*Evidence
	users      []*UserAccount
	files      []*FileDetails
	fileHashes []string
	ips        []string
	urls       []string
	byType     map[string][]*Evidence
}

func (inc *Incident) view() *derived {
	inc.derivedOnce.Do(func() { inc.derived = derive(inc) })
	return inc.derived
}

func derive(inc *Incident) *derived {
	d := &derived{byType: map[string][]*Evidence{}}
	seen := map[string]struct{}{}
	// first reports whether key (in its namespace) is new; an empty key is
	// always new, so evidence without identity is kept rather than merged.
	first := func(ns, key string) bool {
		if key == "" {
			return true
		}
		k := ns + "\x00" + key
		if _, ok := seen[k]; ok {
			return false
		}
		seen[k] = struct{}{}
		return true
	}
	for _, a := range inc.Alerts {
		if a == nil {
			continue
		}
		for _, e := range a.Evidence {
			if e == nil {
				continue
			}
			typ := e.Type
			if typ == "" {
				typ = ShortType(e.ODataType)
			}
			d.byType[typ] = append(d.byType[typ], e)
			switch typ {
			case "deviceEvidence":
				if first("device", firstNonEmpty(e.MdeDeviceID, e.AzureAdDeviceID, strings.ToLower(e.DeviceDNSName), strings.ToLower(e.HostName))) {
					d.devices = append(d.devices, e)
				}
			case "userEvidence":
				if u := e.UserAccount; u != nil && first("user", userKey(u)) {
					d.users = append(d.users, u)
				}
			case "fileEvidence":
				f := e.FileDetails
				if f == nil {
					continue
				}
				if first("file", firstNonEmpty(strings.ToLower(f.Sha256), strings.ToLower(f.Sha1), strings.ToLower(f.Md5), f.FilePath+"\\"+f.FileName)) {
					d.files = append(d.files, f)
				}
				if h := strings.ToLower(firstNonEmpty(f.Sha256, f.Sha1)); h != "" && first("hash", h) {
					d.fileHashes = append(d.fileHashes, h)
				}
			case "ipEvidence":
				if e.IPAddress != "" && first("ip", e.IPAddress) {
					d.ips = append(d.ips, e.IPAddress)
				}
			case "urlEvidence":
				if e.URL != "" && first("url", e.URL) {
					d.urls = append(d.urls, e.URL)
				}
			}
		}
	}
	return d
}

func userKey(u *UserAccount) string {
	switch {
	case u.UserPrincipalName != "":
		return strings.ToLower(u.UserPrincipalName)
	case u.AzureAdUserID != "":
		return u.AzureAdUserID
	case u.AccountName != "":
		return strings.ToLower(u.AccountName + "@" + u.DomainName)
	}
	return u.UserSid
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Devices returns the distinct deviceEvidence items of all alerts (by MDE device
// id, else Azure AD device id, DNS name or host name), in order of first
// appearance. The caller must not modify the result.
func (inc *Incident) Devices() []*Evidence { return inc.view().devices }

// Users returns the distinct userAccount objects of all userEvidence items (by
// user principal name, else Azure AD id, account@domain or SID).
func (inc *Incident) Users() []*UserAccount { return inc.view().users }

// Files returns the distinct fileDetails objects of all fileEvidence items.
func (inc *Incident) Files() []*FileDetails { return inc.view().files }

// FileHashes returns the distinct non-empty file hashes of all fileEvidence
// items, lower-cased: the sha256 of each file, else its sha1.
func (inc *Incident) FileHashes() []string { return inc.view().fileHashes }

// IPs returns the distinct ipAddress values of all ipEvidence items.
func (inc *Incident) IPs() []string { return inc.view().ips }

// URLs returns the distinct url values of all urlEvidence items.
func (inc *Incident) URLs() []string { return inc.view().urls }

// EvidenceOf returns every evidence item of the given type across all alerts,
// in order. The type is the short name ("processEvidence") or the full
// "@odata.type" ("#microsoft.graph.security.processEvidence").
func (inc *Incident) EvidenceOf(typ string) []*Evidence { return inc.view().byType[ShortType(typ)] }
