package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/trackplan/trackplan"
)

// WriteGitHub writes the report as GitHub Actions workflow commands, one
// line per finding, which the runner shows as annotations:
//
//	::error file=plan.yaml,line=12,title=ENUM_VIOLATION::Report Exported.format: expected csv, pdf, observed xlsx (12 messages)
//
// Errors are ::error, warnings ::warning and infos ::notice. With a
// Locator each line names the plan file and the line of the finding's
// event or property (else the file's anchor, its events list); without
// one, the annotations name no file.
func WriteGitHub(w io.Writer, r *Report, loc *Locator) error {
	for _, f := range r.Findings {
		var props []string
		if file, line, _ := loc.place(f); file != "" {
			props = append(props, "file="+escapeProperty(file), "line="+strconv.Itoa(line))
		}
		props = append(props, "title="+escapeProperty(string(f.Code)))
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", githubCommand(f.Severity), strings.Join(props, ","), escapeData(Message(f))); err != nil {
			return err
		}
	}
	return nil
}

func githubCommand(s trackplan.Severity) string {
	switch s {
	case trackplan.SeverityError:
		return "error"
	case trackplan.SeverityWarning:
		return "warning"
	}
	return "notice"
}

// escapeData escapes a workflow command's message: %, CR and LF.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value: as data, and
// : and , too.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
