package main

import (
	"os"
	"reflect"
	"testing"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/odj"
)

// What wkst provision writes for the machine of the Windows Server 2019
// vector (wurst2, /defpwd), from what the directory and the locator give
// it, is the file Windows wrote plus the JOIN_PROVIDER4 part: the same
// values in every field of the WIN7 blob and of every part Windows wrote,
// in the same order, with the same flags.
func TestProvisioningFileMatchesWindows(t *testing.T) {
	win, err := os.ReadFile("../../odj/testdata/windows2019-provision.bin")
	if err != nil {
		t.Fatal(err)
	}
	want, err := odj.DecodeProvision(win)
	if err != nil {
		t.Fatal(err)
	}
	pm := &joinlogic.ProvisionedMachine{
		Name: "wurst2", SAMAccountName: "WURST2$", Password: "wurst2",
		// As ldapdir reports them: the domain's names as the directory
		// spells them, the locator's DS_* flags without the DS_DNS_* bits.
		Domain: joinlogic.DomainInfo{NetBIOSName: "W2K19DOM", DNSName: "w2k19dom.ber.redhat.com", ForestName: "w2k19dom.ber.redhat.com",
			SID: "S-1-5-21-306967272-1096148586-1957995587", GUID: "c0761a96-e242-4ec2-9160-7a66a4ac4929"},
		DC: joinlogic.DCInfo{DCName: "gdw2k19dc.w2k19dom.ber.redhat.com", DCAddress: "192.168.56.108", DomainDNS: "w2k19dom.ber.redhat.com",
			DomainFlat: "W2K19DOM", DomainGUID: "c0761a96-e242-4ec2-9160-7a66a4ac4929", DCSiteName: "Default-First-Site-Name",
			ClientSite: "Default-First-Site-Name", Flags: 0x0003F3FD},
		SID: "S-1-5-21-306967272-1096148586-1957995587-1605", RID: 1605, GUID: "0b8e9f4c-1d2e-4f3a-8b5c-6d7e8f9a0b1c",
	}
	bin, err := provisioningFile(pm, false, true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := odj.DecodeProvision(bin)
	if err != nil {
		t.Fatal(err)
	}
	parts := got.Blobs[1].Package.Parts
	if len(parts) != 3 || parts[2].Type != odj.PartJoinProvider4 || parts[2].Flags != 0 {
		t.Fatalf("parts %+v: want Windows' two and JOIN_PROVIDER4", parts)
	}
	got.Blobs[1].Package.Parts = parts[:2]
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the file differs from Windows':\nours    %+v\nwindows %+v", got, want)
	}
}
