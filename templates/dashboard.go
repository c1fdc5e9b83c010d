package templates

import (
	"embed"
	"io/fs"
)

// dashboardFiles holds the dashboard's page templates (*.html) and its
// static files (static/): a stylesheet, a small sorting script and an icon.
//
//go:embed dashboard/*.html dashboard/static
var dashboardFiles embed.FS

// Dashboard returns the dashboard's files: the html/template page templates
// at the root (layout.html and one file per page) and the static files under
// static/. The files are embedded, so the dashboard needs no network and no
// build step.
func Dashboard() fs.FS {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic("templates: dashboard directory missing from the embedded files: " + err.Error()) // cannot happen: the directory is embedded
	}
	return sub
}
