package intake

import (
	"strings"
	"testing"
)

var benchAlertmanager = []byte(`{"receiver":"web","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"DemoAlert","server":"node-3","severity":"critical"},"annotations":{"summary":"This is a demo"},"startsAt":"2021-01-07T08:38:00.032813093Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph","fingerprint":"8a07086b74f3ba78"}],"groupLabels":{"alertname":"DemoAlert"},"commonLabels":{"alertname":"DemoAlert","server":"node-3","severity":"critical"},"commonAnnotations":{"summary":"This is a demo"},"externalURL":"http://alertmanager.example:9093","version":"4","groupKey":"{}:{alertname=\"DemoAlert\"}","truncatedAlerts":0}`)

var benchSNS = []byte(`{"Type":"Notification","MessageId":"e288882d","TopicArn":"arn:aws:sns:eu-west-1:123456789012:t","Subject":"ALARM: \"cpu\"","Message":"{\"AlarmName\":\"cpu\",\"NewStateValue\":\"ALARM\",\"NewStateReason\":\"Threshold Crossed\",\"Trigger\":{\"MetricName\":\"CPUUtilization\",\"Threshold\":80}}","Timestamp":"2019-02-15T23:53:45.134Z","SignatureVersion":"1","Signature":"c2ln","SigningCertURL":"https://sns.example/cert.pem","UnsubscribeURL":"https://sns.example/?Action=Unsubscribe"}`)

var benchForm = []byte("NOTIFICATIONTYPE=PROBLEM&HOSTNAME=web-01&HOSTSTATE=UP&SERVICEDESC=HTTP&SERVICESTATE=CRITICAL&SERVICEOUTPUT=CRITICAL+-+Socket+timeout&CONTACTEMAIL=oncall%40example.com")

func benchmarkParse(b *testing.B, r Request) {
	b.ReportAllocs()
	b.SetBytes(int64(len(r.Body)))
	for b.Loop() {
		Parse(r)
	}
}

func BenchmarkParseAlertmanager(b *testing.B) {
	benchmarkParse(b, Request{Method: "POST", ContentType: "application/json", Body: benchAlertmanager})
}

func BenchmarkParseSNSCloudWatch(b *testing.B) {
	benchmarkParse(b, Request{Method: "POST", ContentType: "text/plain", Body: benchSNS})
}

func BenchmarkParseNagiosForm(b *testing.B) {
	benchmarkParse(b, Request{Method: "POST", ContentType: "application/x-www-form-urlencoded", Body: benchForm})
}

func BenchmarkParseQueryOnly(b *testing.B) {
	benchmarkParse(b, Request{Method: "GET", Query: "monitorID=1&monitorFriendlyName=Shop&alertType=1&alertTypeFriendlyName=Down&alertDetails=HTTP+500"})
}

func BenchmarkParseText1MiB(b *testing.B) {
	benchmarkParse(b, Request{Method: "POST", Body: []byte(strings.Repeat("disk full ", 1<<20/10))})
}

func BenchmarkStoredBodyAlertmanager(b *testing.B) {
	r := Request{Method: "POST", ContentType: "application/json", Body: benchAlertmanager}
	b.ReportAllocs()
	b.SetBytes(int64(len(r.Body)))
	for b.Loop() {
		StoredBody(r)
	}
}

func BenchmarkStoredBodySNS(b *testing.B) {
	r := Request{Method: "POST", ContentType: "text/plain", Body: benchSNS}
	b.ReportAllocs()
	b.SetBytes(int64(len(r.Body)))
	for b.Loop() {
		StoredBody(r)
	}
}
