//! Imports `acme:outside/dial`, an interface no ballot host provides (as a component
//! built for another runtime would), and dials out through it when it wins. The host must
//! refuse it at deploy, naming the import, before anything runs.

wit_bindgen::generate!({
    inline: "
        package acme:outside;

        interface dial {
            dial: func(address: string) -> bool;
        }

        world fixture {
            import dial;
            export on-winning-election: func(term: u64) -> result<_, string>;
        }
    ",
});

struct Fixture;

impl Guest for Fixture {
    fn on_winning_election(_term: u64) -> Result<(), String> {
        if acme::outside::dial::dial("127.0.0.1:9") {
            Ok(())
        } else {
            Err("could not dial".into())
        }
    }
}

export!(Fixture);
