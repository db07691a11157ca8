package confluencesim

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Namespaces of the storage format's ac: and ri: prefixes. Confluence's own export declares them on a
// wrapping element so the body parses as XML (https://github.com/highsource/confluence-to-markdown-converter/issues/8).
const (
	NamespaceAC = "http://www.atlassian.com/schema/confluence/4/ac/"
	NamespaceRI = "http://www.atlassian.com/schema/confluence/4/ri/"
)

// ParseStorage checks a storage-format body the way Confluence does before it stores it: as XHTML, i.e. XML
// with the ac:/ri: namespaces declared and no entities beyond XML's five (&nbsp; is an error). The error reads
// like Confluence's: "Error parsing xhtml: ...".
func ParseStorage(body string) error {
	doc := `<ac:confluence xmlns="http://www.w3.org/1999/xhtml" xmlns:ac="` + NamespaceAC + `" xmlns:ri="` + NamespaceRI + `">` +
		body + `</ac:confluence>`
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			//lint:ignore ST1005 Confluence's own wording, capitalised as it answers
			return fmt.Errorf("Error parsing xhtml: %w", err)
		}
	}
}
